import type KoaCompose from "koa-compose";
import { CallKind } from "./call-kind.js";
import { refuse, withLifetime } from "./call-lifetime.js";
import { type CallContext, callInternals, HANDLER } from "./context.js";
import { timeoutOf } from "./deadline.js";
import { CallFrame } from "./frame.js";
import { handlerLayer, type Layer, middlewareLayer, type Pipeline, RESOLVED } from "./layers.js";
import type { Handler, MethodNotes, Middleware } from "./middleware.js";
import { Status } from "./status.js";
import { StatusError } from "./status-error.js";
import { requireCommonJs } from "./require-common-js.js";
import type { Send } from "./streams.js";
import { type MethodRef, type Selection, selectionOf } from "./when.js";

/** koa-compose, loaded with require() for start-up time (see requireCommonJs). */
const compose: typeof KoaCompose = requireCommonJs("koa-compose");

/** Receives every error that became a server fault (INTERNAL, UNKNOWN, DATA_LOSS), once. */
export type ErrorListener = (error: unknown, ctx: CallContext, at: string) => void;

/** Options of {@link Application}. */
export interface ApplicationOptions {
  /** Where server faults go; by default one line on stderr. Details never reach the caller. */
  readonly onError?: ErrorListener;
}

/** Options of {@link Application.use}. */
export interface UseOptions {
  /** The name on the wire and in the logs; defaults to the middleware function's own name. */
  readonly name?: string;
}


const unimplemented: Handler = (ctx) => {
  throw new StatusError(Status.UNIMPLEMENTED, `no handler for ${ctx.service}/${ctx.method}`);
};
const everyMethod = (): boolean => true;

/** A layer entered only for the methods `applies` accepts; the others pass it by, unrecorded. */
function selectedLayer(applies: (method: MethodRef) => boolean, layer: Layer): Layer {
  return (frame, next) => (applies(frame.ctx) ? layer(frame, next) : next());
}
const stderrListener: ErrorListener = (error, ctx, at) => {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`${ctx.service}/${ctx.method} failed in ${at}: ${detail}\n`);
};

/** Application's private run over a given frame, for {@link runFrame}. */
let runInFrame: (app: Application<object>, frame: CallFrame) => Promise<void>;

/**
 * An RPC application: middleware run by koa-compose around one handler.
 *
 * Middleware run in the order they were `use`d, outermost first: `use(logging()).use(auth())`
 * means logging sees the call before auth and the outcome after it. The pipeline itself keeps
 * `ctx.applied` (the middleware entered) and `ctx.failure` (which middleware, or the handler,
 * ended the call with an error status), so attribution is right whatever the middleware do.
 *
 * @example
 *   const app = new Application()
 *     .use(logging({ logger }))
 *     .use(auth({ tokens: ["s3cret"] }))
 *     .handle(router([keyValueService()]));
 *   const ctx = new CallContext({ service: "KeyValue", method: "Get", request: { key: "k" }, peer: "c1" });
 *   await app.run(ctx); // ctx.status, ctx.response
 */
export class Application<S extends object = object> {
  readonly #names: string[] = [];
  readonly #layers: Layer[] = [];
  readonly #selections: (Selection | undefined)[] = [];
  /** Each middleware's `describeMethod`, if it has one. */
  readonly #notes: (MethodNotes | undefined)[] = [];
  #handler: Handler = unimplemented;
  #composed: ((frame: CallFrame) => Promise<void>) | undefined;
  readonly #onError: ErrorListener;
  /** Calls with a lifetime to own, until they end: what shutdown() cancels. */
  readonly #inFlight = new Map<CallContext, Promise<void>>();
  /** The reason calls are cancelled with once shutdown() was called. */
  #closing: StatusError | undefined = undefined;

  constructor(options: ApplicationOptions = {}) {
    this.#onError = options.onError ?? stderrListener;
  }

  /**
   * Appends a middleware; returns the application with its state type widened by what the
   * middleware adds. Throws at once when the middleware has no name.
   */
  use<A extends object>(middleware: Middleware<S, A>, options: UseOptions = {}): Application<S & A> {
    if (typeof middleware !== "function") throw new TypeError("use(): middleware must be a function");
    const name = options.name ?? middleware.name;
    if (!name) throw new TypeError("use(): middleware needs a name: return a named function or pass { name }");
    // A when()/unless() middleware is unwrapped so that a skipped one is never entered, hence
    // never in ctx.applied (interceptors_applied lists what ran).
    const selection = selectionOf(middleware as unknown as Middleware);
    const layer = middlewareLayer(selection?.middleware ?? (middleware as unknown as Middleware), name, this.#layers.length, this.#pipeline);
    this.#layers.push(selection === undefined ? layer : selectedLayer(selection.applies, layer));
    this.#selections.push(selection);
    const notes = ((selection?.middleware ?? middleware) as { readonly describeMethod?: unknown }).describeMethod;
    this.#notes.push(typeof notes === "function" ? (notes as MethodNotes) : undefined);
    this.#names.push(name);
    this.#composed = undefined;
    return this as unknown as Application<S & A>;
  }

  /** Sets the handler at the end of the pipeline (a {@link router} of services, usually). */
  handle(handler: Handler<S>): this {
    if (typeof handler !== "function") throw new TypeError("handle(): handler must be a function");
    this.#handler = handler as Handler;
    this.#composed = undefined;
    return this;
  }

  /** The names of the middleware, outermost first. */
  get middleware(): readonly string[] {
    return this.#names;
  }

  /**
   * The middleware a call to `service`/`method` enters, outermost first, with `when()` and
   * `unless()` resolved: what `ctx.applied` (the wire's `interceptors_applied`) holds when every
   * middleware goes on.
   *
   * @example
   *   app.chain("Health", "Check"); // ["logging", "rate_limit"] when auth is unless("Health/*", ...)
   */
  chain(service: string, method: string): readonly string[] {
    const ref: MethodRef = { service, method };
    return this.#names.filter((_, i) => (this.#selections[i]?.applies ?? everyMethod)(ref));
  }

  /**
   * The pipeline as text for people (`bin/node --describe`): each middleware with its selection,
   * then the resolved chain of each method in `methods` ("Service/Method" names; by default the
   * methods of the handler when it is a {@link router}).
   */
  describe(methods?: Iterable<string>): string {
    const width = Math.max(0, ...this.#names.map((name) => name.length));
    const lines = ["middleware, outermost first:"];
    if (this.#names.length === 0) lines.push("  (none)");
    this.#names.forEach((name, i) => {
      const selection = this.#selections[i];
      lines.push(selection === undefined ? `  ${name}` : `  ${name.padEnd(width)}  ${selection.description}`);
    });
    const names = [...(methods ?? (this.#handler as { readonly methods?: readonly string[] }).methods ?? [])];
    if (names.length > 0) {
      const column = Math.max(...names.map((name) => name.length));
      lines.push("chain per method:");
      for (const name of names) {
        const slash = name.indexOf("/");
        const chain = slash === -1 ? this.chain(name, "") : this.chain(name.slice(0, slash), name.slice(slash + 1));
        lines.push(`  ${name.padEnd(column)}  ${[...chain, HANDLER].join(" -> ")}`);
        const ref = slash === -1 ? { service: name, method: "" } : { service: name.slice(0, slash), method: name.slice(slash + 1) };
        this.#names.forEach((middleware, i) => {
          const note = (this.#selections[i]?.applies ?? everyMethod)(ref) ? this.#notes[i]?.(ref) : undefined;
          if (note !== undefined) lines.push(`  ${"".padEnd(column)}    ${middleware}: ${note}`);
        });
      }
    }
    return `${lines.join("\n")}\n`;
  }

  /**
   * Runs one call through the pipeline. Never rejects: the outcome is in `ctx.status`,
   * `ctx.response` and `ctx.failure`. The context comes as the host made it: the state `S` is
   * what the middleware add on the way in.
   *
   * For a `server_stream` or `bidi` call, `send` takes the response messages, one at a time:
   * the next is pulled only once the promise `send` returned has settled, and run() resolves
   * once the last one has been sent (or the stream failed or was cancelled) and the status is
   * known. The call's deadline is read here, before any middleware: a `grpc-timeout` in the
   * metadata (lib/core/deadline.ts) aborts `ctx.signal` with DEADLINE_EXCEEDED when it passes,
   * and a malformed one ends the call with INVALID_ARGUMENT, no middleware run.
   */
  run(ctx: CallContext, send?: Send): Promise<void> {
    let timeoutMs: number | undefined;
    try {
      timeoutMs = timeoutOf(ctx.metadata);
    } catch (thrown) {
      refuse(ctx, thrown);
      return RESOLVED;
    }
    const frame = new CallFrame(ctx);
    // A unary call with no deadline and no host signal has nothing to arm or release.
    if (timeoutMs === undefined && ctx.kind === CallKind.UNARY && callInternals.hostSignal(ctx) === undefined && !this.#closing) return this.#run(frame);
    frame.send = send;
    return this.#runOwned(frame, timeoutMs);
  }

  /**
   * Shuts down: every call in flight that can be cancelled (a streaming call, or one with a
   * deadline or a host signal) is cancelled with UNAVAILABLE, and every call that starts after
   * ends UNAVAILABLE before its handler; resolves once those in flight have ended. Plain unary
   * calls in flight run to their end.
   */
  async shutdown(message = "server shutting down"): Promise<void> {
    this.#closing = new StatusError(Status.UNAVAILABLE, message);
    for (const ctx of this.#inFlight.keys()) ctx.cancel(this.#closing);
    await Promise.all(this.#inFlight.values());
  }

  /** A call with something to own while it runs (lib/core/call-lifetime.ts), tracked for shutdown(). */
  #runOwned(frame: CallFrame, timeoutMs: number | undefined): Promise<void> {
    const ctx = frame.ctx;
    const lifetime = { timeoutMs, closing: this.#closing, canSend: frame.send !== undefined };
    const done = withLifetime(ctx, lifetime, () => this.#run(frame)).finally(() => this.#inFlight.delete(ctx));
    this.#inFlight.set(ctx, done);
    return done;
  }

  #run(frame: CallFrame): Promise<void> {
    this.#composed ??= compose([...this.#layers, handlerLayer(this.#handler, this.#layers.length, this.#pipeline)]);
    // The outermost layer records an error and does not rethrow it (there is no one further
    // out to see it), so this promise never rejects: no catch-all promise per call.
    return this.#composed(frame);
  }

  static {
    runInFrame = (app, frame) => app.#run(frame);
  }

  /** What the layers share of this application. */
  readonly #pipeline: Pipeline = {
    record: (ctx, at, thrown) => {
      const error = StatusError.from(thrown);
      ctx.failure = { at, error, thrown, threw: true };
      ctx.status = error.code;
      if (!error.expose) this.#onError(thrown, ctx, at);
    },
    onError: (error, ctx, at) => this.#onError(error, ctx, at),
    names: this.#names,
  };
}

/**
 * Runs `frame`'s call through `app`'s pipeline, as {@link Application.run} runs a unary call
 * without a deadline, and resolves with the frame (the pipeline's bookkeeping), for specs that
 * check it. Internal: not exported by the package.
 *
 * @example
 *   const frame = await runFrame(app, new CallFrame(ctx));
 *   expect(frame.open).to.equal(0);
 */
export async function runFrame<S extends object>(app: Application<S>, frame: CallFrame): Promise<CallFrame> {
  await runInFrame(app as Application<object>, frame);
  return frame;
}
