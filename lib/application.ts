import compose from "koa-compose";
import { CallContext, HANDLER } from "./context.js";
import type { Handler, Middleware, Next } from "./middleware.js";
import { Status } from "./status.js";
import { StatusError } from "./status-error.js";
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

type Layer = (ctx: CallContext, next: Next) => Promise<void> | void;

const unimplemented: Handler = (ctx) => {
  throw new StatusError(Status.UNIMPLEMENTED, `no handler for ${ctx.service}/${ctx.method}`);
};
const stderrListener: ErrorListener = (error, ctx, at) => {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`${ctx.service}/${ctx.method} failed in ${at}: ${detail}\n`);
};

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
  #handler: Handler = unimplemented;
  #composed: ((ctx: CallContext) => Promise<void>) | undefined;
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
    this.#layers.push(this.#layer(middleware as unknown as Middleware, name, this.#layers.length));
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
   * Runs one call through the pipeline. Never rejects: the outcome is in `ctx.status`,
   * `ctx.response` and `ctx.failure`.
   */
  run(ctx: CallContext<S>): Promise<void> {
    this.#composed ??= compose([...this.#layers, this.#handlerLayer(this.#layers.length)]);
    // The outermost layer records an error and does not rethrow it (there is no one further
    // out to see it), so this promise never rejects: no catch-all promise per call (issue 6).
    return this.#composed(ctx);
  }

  #record(ctx: CallContext, at: string, thrown: unknown): void {
    const error = StatusError.from(thrown);
    ctx.failure = { at, error, thrown, threw: true };
    ctx.status = error.code;
    if (!error.expose) this.#onError(thrown, ctx, at);
  }

  #layer(middleware: Middleware, name: string, index: number): Layer {
    const record = this.#record.bind(this);
    const wrapped = async (ctx: CallContext, next: Next): Promise<void> => {
      ctx.depth = index;
      ctx.applied.push(name);
      try {
        await middleware(ctx, next);
      } catch (thrown) {
        // Only the innermost layer that sees an error blames itself; an error passing through
        // unchanged keeps the blame where it was thrown.
        if (ctx.failure === undefined || !ctx.failure.threw || ctx.failure.thrown !== thrown) record(ctx, name, thrown);
        if (index === 0) return;
        throw thrown;
      }
      if (ctx.failure !== undefined) {
        // An error from further in that this middleware caught and did not rethrow is handled.
        if (ctx.failure.threw) ctx.failure = undefined;
      } else if (ctx.depth === index && ctx.status !== Status.OK) {
        // Ended the call with an error status without calling next() or throwing.
        ctx.failure = { at: name, error: new StatusError(ctx.status, `ended by ${name}`), thrown: undefined, threw: false };
      }
    };
    Object.defineProperty(wrapped, "name", { value: name });
    return wrapped;
  }

  #handlerLayer(index: number): Layer {
    const handler = this.#handler;
    const record = this.#record.bind(this);
    const settle = async (ctx: CallContext, pending: PromiseLike<unknown>): Promise<void> => {
      try {
        await pending;
      } catch (thrown) {
        record(ctx, HANDLER, thrown);
        if (index !== 0) throw thrown;
      }
    };
    // Synchronous when the handler is (koa-compose makes a promise of it either way): a handler
    // that answers at once costs no async frame and no microtask of its own (issue 6).
    return function handler_(ctx: CallContext): Promise<void> | void {
      ctx.depth = index;
      ctx.handled = true;
      let result: Promise<void> | void;
      try {
        result = handler(ctx);
      } catch (thrown) {
        record(ctx, HANDLER, thrown);
        if (index === 0) return;
        throw thrown;
      }
      if (isThenable(result)) return settle(ctx, result);
    };
  }
}
