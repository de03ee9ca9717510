import compose from "koa-compose";
import { type CallContext, HANDLER } from "./context.js";
import { CallFrame } from "./frame.js";
import { leave, refuseLateEntry, returnedEarly, settled } from "./misuse.js";
import type { Handler, Middleware, Next } from "./middleware.js";
import { Status } from "./status.js";
import { StatusError } from "./status-error.js";
import { type MethodRef, type Selection, selectionOf } from "./when.js";
import { isThenable } from "./thenable.js";

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

/** A middleware or the handler as koa-compose runs it: over the call's frame, not its context. */
type Layer = (frame: CallFrame, next: Next) => Promise<void> | void | undefined;

const unimplemented: Handler = (ctx) => {
  throw new StatusError(Status.UNIMPLEMENTED, `no handler for ${ctx.service}/${ctx.method}`);
};
const everyMethod = (): boolean => true;
/** What a layer that finished synchronously gives back: one settled promise for every call. */
const RESOLVED: Promise<void> = Promise.resolve();

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
  #handler: Handler = unimplemented;
  #composed: ((frame: CallFrame) => Promise<void>) | undefined;
  readonly #onError: ErrorListener;

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
    const layer = this.#layer(selection?.middleware ?? (middleware as unknown as Middleware), name, this.#layers.length);
    this.#layers.push(selection === undefined ? layer : selectedLayer(selection.applies, layer));
    this.#selections.push(selection);
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
      }
    }
    return `${lines.join("\n")}\n`;
  }

  /**
   * Runs one call through the pipeline. Never rejects: the outcome is in `ctx.status`,
   * `ctx.response` and `ctx.failure`. The context comes as the host made it: the state `S` is
   * what the middleware add on the way in.
   */
  run(ctx: CallContext): Promise<void> {
    return this.#run(new CallFrame(ctx));
  }

  #run(frame: CallFrame): Promise<void> {
    this.#composed ??= compose([...this.#layers, this.#handlerLayer(this.#layers.length)]);
    // The outermost layer records an error and does not rethrow it (there is no one further
    // out to see it), so this promise never rejects: no catch-all promise per call.
    return this.#composed(frame);
  }

  static {
    runInFrame = (app, frame) => app.#run(frame);
  }

  #record(ctx: CallContext, at: string, thrown: unknown): void {
    const error = StatusError.from(thrown);
    ctx.failure = { at, error, thrown, threw: true };
    ctx.status = error.code;
    if (!error.expose) this.#onError(thrown, ctx, at);
  }

  #layer(middleware: Middleware, name: string, index: number): Layer {
    const record = this.#record.bind(this);
    const onError = this.#onError;
    const names = this.#names;
    /** The middleware returned (or its promise resolved): the layer's bookkeeping on the way out. */
    const returned = (frame: CallFrame, open: number): Promise<void> | undefined => {
      // Returned while layers under it still run: it did not await next().
      if (frame.open !== open) return returnedEarly(frame, name, open, onError);
      leave(frame, open);
      const ctx = frame.ctx;
      if (ctx.failure !== undefined) {
        // An error from further in that this middleware caught and did not rethrow is handled.
        if (ctx.failure.threw) ctx.failure = undefined;
      } else if (frame.depth === index && ctx.status !== Status.OK) {
        // Ended the call with an error status without calling next() or throwing.
        ctx.failure = { at: name, error: new StatusError(ctx.status, `ended by ${name}`), thrown: undefined, threw: false };
      }
      return undefined;
    };
    /** The middleware threw (or its promise rejected). */
    const threw = async (frame: CallFrame, thrown: unknown, open: number): Promise<void> => {
      if (frame.open !== open) return returnedEarly(frame, name, open, onError);
      // Only the innermost layer that sees an error blames itself; an error passing through
      // unchanged keeps the blame where it was thrown.
      const failure = frame.ctx.failure;
      if (failure === undefined || !failure.threw || failure.thrown !== thrown) {
        record(frame.ctx, name, thrown);
        await settled(); // lets an early return above be seen first (lib/core/misuse.ts)
      }
      // The first layer entered (open === 1; not always index 0, when() may pass layers by)
      // has no one further out to see the error: it keeps it, so run() needs no catch-all.
      if (leave(frame, open) && open !== 1) throw thrown;
    };
    /** Waits for what the middleware returned, then does the layer's bookkeeping. */
    const awaited = async (frame: CallFrame, result: unknown, open: number): Promise<void> => {
      try {
        await result;
      } catch (thrown) {
        return threw(frame, thrown, open);
      }
      return returned(frame, open);
    };
    const wrapped = (frame: CallFrame, next: Next): Promise<void> => {
      // Entered after every layer returned: a next() called after its middleware returned.
      if (frame.open === 0 && frame.ctx.applied.length !== 0) return refuseLateEntry(frame, names[frame.depth] ?? name, onError);
      frame.depth = index;
      frame.ctx.applied.push(name);
      const open = ++frame.open;
      let result: unknown;
      try {
        result = middleware(frame.ctx, next);
      } catch (thrown) {
        return (frame.returned = threw(frame, thrown, open));
      }
      // A tail call (lib/core/tail-call.ts): the middleware returned the very promise the layer
      // under it gave back. When that downstream has already finished, every layer under this
      // one back out (frame.open is this layer's count again), the middleware has nothing left
      // to do, so its layer is done too, with no await and no microtask of its own: so end
      // auth and rate_limit on bin/node's hot path, behind a synchronous handler.
      // Anything else waits for the middleware's promise, as an async layer would.
      if (result === frame.returned && result !== undefined && frame.depth > index) {
        if (frame.open === open) {
          returned(frame, open);
          return result as Promise<void>;
        }
        // A tail call over a downstream still running (waiting for Redis, say): the layer is
        // done when the downstream is, so it leaves with it (lib/core/misuse.ts: leave) instead
        // of holding an async frame until then (with the Redis limiter, hundreds of calls are
        // in flight and their frames survive every scavenge). Not the first layer entered: it
        // keeps errors from run(), so it must see them.
        if (open !== 1) {
          (frame.tails ??= []).push(open);
          return result as Promise<void>;
        }
      }
      return (frame.returned = awaited(frame, result, open));
    };
    Object.defineProperty(wrapped, "name", { value: name });
    return wrapped;
  }

  #handlerLayer(index: number): Layer {
    const handler = this.#handler;
    const record = this.#record.bind(this);
    const onError = this.#onError;
    const names = this.#names;
    const failed = async (frame: CallFrame, thrown: unknown, open: number): Promise<void> => {
      record(frame.ctx, HANDLER, thrown);
      await settled(); // lets an early return above be seen first (lib/core/misuse.ts)
      if (leave(frame, open) && open !== 1) throw thrown;
    };
    const settle = async (frame: CallFrame, pending: PromiseLike<unknown>, open: number): Promise<void> => {
      try {
        await pending;
      } catch (thrown) {
        return failed(frame, thrown, open);
      }
      leave(frame, open);
    };
    // Synchronous when the handler is (koa-compose makes a promise of it either way): a handler
    // that answers at once costs no async frame and no microtask of its own.
    return function handler_(frame: CallFrame): Promise<void> | void {
      if (frame.open === 0 && frame.ctx.applied.length !== 0) return refuseLateEntry(frame, names[frame.depth] ?? HANDLER, onError);
      frame.depth = index;
      frame.handled = true;
      const open = ++frame.open;
      let result: Promise<void> | void;
      try {
        result = handler(frame.ctx);
      } catch (thrown) {
        return (frame.returned = failed(frame, thrown, open));
      }
      if (isThenable(result)) return (frame.returned = settle(frame, result, open));
      leave(frame, open);
      return (frame.returned = RESOLVED);
    };
  }
}

/**
 * Runs `frame`'s call through `app` as {@link Application.run} does and resolves with the frame
 * (the pipeline's bookkeeping), for specs that check it. Internal: not exported by the package.
 *
 * @example
 *   const frame = await runFrame(app, new CallFrame(ctx));
 *   expect(frame.open).to.equal(0);
 */
export async function runFrame<S extends object>(app: Application<S>, frame: CallFrame): Promise<CallFrame> {
  await runInFrame(app as Application<object>, frame);
  return frame;
}
