import { CallKind } from "../core/call-kind.js";
import { Status, type StatusName } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import { ClientCallContext } from "./call-context.js";
import { Handoff } from "./handoff.js";
import { type Clock, systemClock } from "./clock.js";
import { checkTimeoutMs, encodeTimeout, withDeadline } from "./deadline.js";
import type { ClientMiddleware } from "./middleware.js";
import { buildPipeline, type Layer, type Run } from "./pipeline.js";
import type { Transport } from "./transport.js";

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The clock that enforces a call's `timeoutMs`; default the system clock. */
  readonly clock?: Clock;
  /** Reject non-OK outcomes with their StatusError instead of resolving with them. Default false. */
  readonly throwOnError?: boolean;
}

/** Options of one {@link Client.call}. */
export interface CallOptions {
  /** Metadata to send, e.g. `{ "x-request-id": "42" }`; not modified. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Cancels the call: it ends CANCELLED (or with the signal's StatusError reason). */
  readonly signal?: AbortSignal;
  /** A deadline for the whole call, retries included, in ms; ends it DEADLINE_EXCEEDED. */
  readonly timeoutMs?: number;
  /** Overrides the client's `throwOnError` for this call. */
  readonly throwOnError?: boolean;
}

/** How a call ended. */
export interface CallResult {
  readonly status: StatusName;
  /** The response message, if the answer carried one (NOT_FOUND from KeyValue/Get does). */
  readonly response: unknown;
  /** For a status other than OK: its message and cause (a deadline, a lost connection...). */
  readonly error: StatusError | undefined;
  /** The server interceptors the call passed (bin/node's `interceptors_applied`). */
  readonly interceptorsApplied: readonly string[] | undefined;
  /** The server interceptor that stopped the call (bin/node's `interceptor_failed`). */
  readonly interceptorFailed: string | undefined;
}

/**
 * A call with a streamed response (`serverStream()`, `bidi()`): read the messages with
 * `for await`; breaking out of it cancels the call on the server. The messages are not
 * buffered: the server is held one message ahead of the reader, so a reader that never reads
 * holds the call open.
 */
export interface StreamingCall extends AsyncIterable<unknown> {
  /**
   * How the call ended, once it has; never rejects. (The `for await` over the messages throws
   * the StatusError of a non-OK end, after the last message.)
   */
  readonly result: Promise<CallResult>;
}

/** Options of {@link Client.use}. */
export interface ClientUseOptions {
  /** The name in `client.middleware`; defaults to the middleware function's own name. */
  readonly name?: string;
}

/**
 * A client: outbound middleware, run by koa-compose, in front of a {@link Transport}.
 *
 * Middleware run in the order they were `use`d: the first is closest to the application, the
 * last closest to the network. So `use(cache()).use(logging())` logs only cache misses (what
 * goes on the wire) and `use(logging()).use(cache())` logs every call the application makes.
 *
 * `call()` resolves with the outcome whatever the status, because on this wire a status is an
 * answer like any other (KeyValue/Get answers NOT_FOUND with a response). With
 * `throwOnError: true` (for the client or one call) it rejects with the StatusError instead,
 * as nice-grpc and grpc-js do. Either way it never rejects with anything but a StatusError,
 * apart from a TypeError for bad arguments.
 *
 * @example
 *   const client = createClient(spawnNode())
 *     .use(logging())
 *     .use(deadline({ timeoutMs: 1000 }))
 *     .use(retry({ maxAttempts: 3, baseDelayMs: 50 }))
 *     .use(credentials({ token: "valid_token" }));
 *   const { status, response } = await client.call("KeyValue", "Get", { key: "k1" });
 *   await client.close();
 */
export class Client<S extends object = object> {
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #throwOnError: boolean;
  readonly #layers: Layer[] = [];
  #pipeline: Run | undefined;

  constructor(transport: Transport, options: ClientOptions = {}) {
    if (transport === null || typeof transport !== "object" || typeof transport.unary !== "function") throw new TypeError("createClient(): transport must have unary() and close()");
    this.#transport = transport;
    this.#clock = options.clock ?? systemClock;
    this.#throwOnError = options.throwOnError ?? false;
  }

  /** Appends a middleware, closer to the network than those before it; widens the state type. */
  use<A extends object>(middleware: ClientMiddleware<S, A>, options: ClientUseOptions = {}): Client<S & A> {
    if (typeof middleware !== "function") throw new TypeError("use(): middleware must be a function");
    const name = options.name ?? middleware.name;
    if (!name) throw new TypeError("use(): middleware needs a name: return a named function or pass { name }");
    this.#layers.push({ name, middleware: middleware as unknown as ClientMiddleware });
    this.#pipeline = undefined;
    return this as unknown as Client<S & A>;
  }

  /** The names of the middleware, closest to the application first. */
  get middleware(): readonly string[] {
    return this.#layers.map((layer) => layer.name);
  }

  /**
   * Calls `service/method` with `request` through the middleware and the transport.
   *
   * @example
   *   const { status, response } = await client.call("KeyValue", "Put", { key: "k", value: "v" }, { timeoutMs: 500 });
   */
  call(service: string, method: string, request: unknown, options: CallOptions = {}): Promise<CallResult> {
    return this.#call(CallKind.UNARY, "call()", service, method, request, options, undefined);
  }

  /**
   * Calls a server-streaming method: one request, the responses as they come.
   *
   * @example
   *   const scan = client.serverStream("KeyValue", "Scan", { prefix: "user:" }, { timeoutMs: 5000 });
   *   for await (const entry of scan) console.log(entry);
   *   const { status } = await scan.result;
   */
  serverStream(service: string, method: string, request: unknown, options: CallOptions = {}): StreamingCall {
    return this.#streaming(CallKind.SERVER_STREAM, "serverStream()", service, method, request, options);
  }

  /**
   * Calls a client-streaming method: the requests are read from `requests` as the server pulls
   * them; its end is the half-close. Resolves with the one response, as `call()` does.
   *
   * @example
   *   const { response } = await client.clientStream("KeyValue", "PutMany", puts());
   */
  clientStream(service: string, method: string, requests: AsyncIterable<unknown>, options: CallOptions = {}): Promise<CallResult> {
    return this.#call(CallKind.CLIENT_STREAM, "clientStream()", service, method, checkRequests(requests, "clientStream()"), options, undefined);
  }

  /**
   * Calls a bidirectional method: requests read from `requests` as the server pulls them, the
   * responses as they come (a {@link StreamingCall}).
   */
  bidi(service: string, method: string, requests: AsyncIterable<unknown>, options: CallOptions = {}): StreamingCall {
    return this.#streaming(CallKind.BIDI, "bidi()", service, method, checkRequests(requests, "bidi()"), options);
  }

  #streaming(kind: CallKind, where: string, service: string, method: string, request: unknown, options: CallOptions): StreamingCall {
    // Cancels the call when the reader breaks out of its for await.
    const stop = new AbortController();
    const handoff = new Handoff(() => stop.abort(new StatusError(Status.CANCELLED, "the caller stopped reading the stream")));
    const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
    const result = this.#call(kind, where, service, method, request, { ...options, signal, throwOnError: false }, (message) => handoff.push(message)).then((outcome) => {
      handoff.end(outcome.status === Status.OK ? undefined : (outcome.error ?? new StatusError(outcome.status)));
      return outcome;
    });
    return { [Symbol.asyncIterator]: () => handoff, result };
  }

  async #call(kind: CallKind, where: string, service: string, method: string, request: unknown, options: CallOptions, receive: ((message: unknown) => Promise<void>) | undefined): Promise<CallResult> {
    if (typeof service !== "string" || service === "") throw new TypeError(`${where}: service must be a non-empty string`);
    if (typeof method !== "string" || method === "") throw new TypeError(`${where}: method must be a non-empty string`);
    const timeoutMs = options.timeoutMs === undefined ? undefined : checkTimeoutMs(options.timeoutMs, where);
    const ctx = new ClientCallContext<S>({ service, method, request, metadata: options.metadata, signal: options.signal, kind });
    ctx.receive = receive;
    const pipeline = (this.#pipeline ??= buildPipeline(this.#layers, this.#send));
    if (timeoutMs === undefined) await pipeline(ctx);
    else await withDeadline(ctx, timeoutMs, this.#clock, () => pipeline(ctx));

    if (ctx.status !== Status.OK && (options.throwOnError ?? this.#throwOnError)) throw ctx.error ?? new StatusError(ctx.status);
    return {
      status: ctx.status,
      response: ctx.response,
      error: ctx.error,
      interceptorsApplied: ctx.interceptorsApplied,
      interceptorFailed: ctx.interceptorFailed,
    };
  }

  /** Closes the transport: see its `close()`. */
  close(): Promise<void> {
    return this.#transport.close();
  }

  /** The end of the pipeline: stamps the deadline's budget and hands the call to the transport. */
  readonly #send = async (ctx: ClientCallContext): Promise<void> => {
    const signal = ctx.signal;
    if (signal?.aborted) return ctx.fail(StatusError.from(signal.reason));
    const metadata = ctx.metadata.toObject();
    if (ctx.deadline !== undefined) metadata["grpc-timeout"] = encodeTimeout(ctx.deadline.remainingMs());
    try {
      const call = { service: ctx.service, method: ctx.method, request: ctx.request, metadata, signal };
      if (ctx.kind === CallKind.UNARY) return ctx.respond(await this.#transport.unary(call));
      if (this.#transport.stream === undefined) return ctx.fail(new StatusError(Status.UNIMPLEMENTED, "this transport cannot stream"));
      ctx.respond(await this.#transport.stream({ ...call, kind: ctx.kind }, ctx.receive ?? (() => Promise.resolve())));
    } catch (thrown) {
      ctx.fail(StatusError.from(thrown));
    }
  };
}

function checkRequests(requests: AsyncIterable<unknown>, where: string): AsyncIterable<unknown> {
  if (requests === null || typeof requests !== "object" || typeof requests[Symbol.asyncIterator] !== "function") throw new TypeError(`${where}: requests must be an AsyncIterable`);
  return requests;
}

/**
 * Creates a {@link Client} over `transport`.
 *
 * @example
 *   const client = createClient(new InProcessTransport(app)).use(credentials({ token: "t" }));
 */
export function createClient(transport: Transport, options: ClientOptions = {}): Client {
  return new Client(transport, options);
}
