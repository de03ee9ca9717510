import { CallKind, streamsRequests, streamsResponses } from "./call-kind.js";
import { Metadata } from "./metadata.js";
import { Status, type StatusName } from "./status.js";
import { StatusError } from "./status-error.js";
import { type StreamWrapper, wrapBlaming } from "./streams.js";

/** Where and why a call failed; recorded by the pipeline, not by the middleware. */
export interface Failure {
  /** The middleware name (as on the wire) or {@link HANDLER} when the handler failed. */
  readonly at: string;
  /** The failure as a status error (anything else thrown was normalised to INTERNAL). */
  readonly error: StatusError;
  /** The value that was thrown, when one was. */
  readonly thrown: unknown;
  /** False when a middleware ended the call by setting `ctx.status` without calling next(). */
  readonly threw: boolean;
}

/** The name under which handler failures are recorded in {@link Failure.at}. */
export const HANDLER = "handler";

/**
 * The name under which a call refused before any middleware ran is recorded in
 * {@link Failure.at}: a malformed `grpc-timeout` (lib/core/deadline.ts).
 */
export const PIPELINE = "pipeline";

/** What a host knows about an incoming call when it creates the context. */
export interface CallInit<S extends object> {
  readonly service: string;
  readonly method: string;
  readonly request: unknown;
  /** The metadata object as it arrived; anything but a plain object counts as empty. */
  readonly metadata?: unknown;
  /** Who is calling: the envelope's `src` in bin/node, a socket address in other hosts. */
  readonly peer: string;
  /** The initial state; `{}` by default. */
  readonly state?: S;
  /** The kind of call; `unary` by default. For `client_stream` and `bidi`, `request` is an AsyncIterable. */
  readonly kind?: CallKind;
  /**
   * A signal the host owns: while the call runs, its abort cancels the call, with its reason
   * when that is a StatusError, else CANCELLED. (Hosts may call {@link CallContext.cancel} instead.)
   */
  readonly signal?: AbortSignal;
}

/**
 * What only the core's pipeline does to a call (count its messages, read its host signal, build
 * its response stream); filled in by CallContext itself. Not exported by the package.
 */
export const callInternals = {} as {
  /** Whether the call was cancelled, without making a signal for it. */
  aborted(ctx: CallContext): boolean;
  hostSignal(ctx: CallContext): AbortSignal | undefined;
  received(ctx: CallContext): void;
  sent(ctx: CallContext): void;
  /** The handler's response stream wrapped by every `wrapResponse()`, as the host reads it. */
  responseStream(ctx: CallContext, stream: AsyncIterable<unknown>): AsyncIterable<unknown>;
  /**
   * The reading `clock` left on the call for its entering (`leaving` false) or leaving edge,
   * while it stands: what lets timing middleware share one reading (lib/observability/call-clock.ts).
   */
  edgeReading(ctx: CallContext, clock: object, leaving: boolean): number | undefined;
  /** Leaves `clock`'s reading `at` of an edge on the call, replacing any other. */
  setEdgeReading(ctx: CallContext, clock: object, leaving: boolean, at: number): void;
  /** Forgets `clock`'s reading, if the call holds one. */
  forgetEdgeReading(ctx: CallContext, clock: object): void;
};

/** A response wrapper and the middleware that gave it. */
interface ResponseWrapper {
  readonly wrap: StreamWrapper;
  readonly name: string;
}

/**
 * One RPC call on its way through the middleware: what was asked (service, method, request,
 * metadata, peer), what the middleware learned (`state`), and what will be answered (`status`,
 * `response`).
 *
 * Every kind of call ({@link CallKind}) goes through the same middleware. A streamed request is
 * an AsyncIterable in `request`; a streamed response is an AsyncIterable the handler puts in
 * `response`. Middleware see each message by wrapping the streams (`wrapRequest`,
 * `wrapResponse`) before `await next()`, which returns once the whole call is over: the last
 * message sent and the status known. `signal` aborts when the call is cancelled, its deadline
 * passes or the server shuts down. See docs/streams.md.
 *
 * @example
 *   async function audit(ctx: CallContext<{ principal: Principal }>, next: Next) {
 *     await next();
 *     log(ctx.state.principal.subject, ctx.service, ctx.method, ctx.status, ctx.messagesOut);
 *   }
 */
export class CallContext<S extends object = object> {
  readonly service: string;
  readonly method: string;
  /** Which of the four kinds of call this is. */
  readonly kind: CallKind;
  /** The request message; for `client_stream` and `bidi`, an AsyncIterable of them. */
  request: unknown;
  readonly metadata: Metadata;
  readonly peer: string;
  state: S;
  /** The status to answer with; OK until a middleware or handler says otherwise. */
  status: StatusName = Status.OK;
  /**
   * The response message, undefined for none; for `server_stream` and `bidi`, the handler puts
   * an AsyncIterable of them here.
   */
  response: unknown = undefined;
  /** Wire names of the middleware the call has entered, outermost first. */
  readonly applied: string[] = [];
  /** Set by the pipeline when a middleware or the handler ends the call with an error status. */
  failure: Failure | undefined = undefined;
  /** Made on first use: most unary calls never read their signal. */
  #controller: AbortController | undefined = undefined;
  readonly #hostSignal: AbortSignal | undefined;
  #received = 0;
  #sent = 0;
  #responseWrappers: ResponseWrapper[] | undefined = undefined;
  /**
   * A clock reading of an edge of the call, kept on the call itself: on the long-lived clock,
   * each store of the young context goes through the write barrier's remembered set.
   */
  #edgeClock: object | undefined = undefined;
  #edgeAt = 0;
  #edgeLeaving = false;

  constructor(init: CallInit<S>) {
    this.service = init.service;
    this.method = init.method;
    this.kind = init.kind ?? CallKind.UNARY;
    this.request = init.request;
    this.metadata = new Metadata(init.metadata);
    this.peer = init.peer;
    this.state = init.state ?? ({} as S);
    this.#hostSignal = init.signal;
  }

  /**
   * Aborts when the call is cancelled by its client, passes its deadline or is cut by a server
   * shutdown; `signal.reason` is a StatusError saying which (CANCELLED, DEADLINE_EXCEEDED,
   * UNAVAILABLE). A long handler checks `signal.aborted` or listens for "abort".
   */
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  /**
   * Cancels the call, for hosts: `ctx.signal` aborts with `reason` (CANCELLED by default), a
   * stream stops being pulled, and the call ends with that status. The first reason stays;
   * later calls do nothing.
   */
  cancel(reason: StatusError = new StatusError(Status.CANCELLED, "cancelled by the client")): void {
    const controller = (this.#controller ??= new AbortController());
    if (!controller.signal.aborted) controller.abort(reason);
  }

  /** Request messages the call has received so far: 1 for a unary or server-streaming call. */
  get messagesIn(): number {
    return streamsRequests(this.kind) ? this.#received : 1;
  }

  /** Response messages the call has sent so far: for one response, 1 once it is to be sent. */
  get messagesOut(): number {
    if (streamsResponses(this.kind)) return this.#sent;
    return this.responseToSend === undefined ? 0 : 1;
  }

  /**
   * Wraps the request stream of a `client_stream` or `bidi` call: the middleware and handler
   * after this one read what `wrap` yields. Call it before `next()`. An error `wrap` throws
   * (not one passing through it) fails the call as this middleware's. Other kinds: no effect.
   *
   * @example
   *   ctx.wrapRequest(async function* (messages) {
   *     for await (const message of messages) yield check(message);
   *   });
   */
  wrapRequest(wrap: StreamWrapper): void {
    if (typeof wrap !== "function") throw new TypeError("wrapRequest(): wrap must be a function");
    if (streamsRequests(this.kind)) this.request = wrapBlaming(this.request as AsyncIterable<unknown>, wrap, this.#current());
  }

  /**
   * Wraps the response stream of a `server_stream` or `bidi` call: the middleware before this
   * one (and the host) read what `wrap` yields. Call it before `next()`; it applies to the
   * stream the handler will produce. An error `wrap` throws (not one passing through it) fails
   * the call as this middleware's. Other kinds: no effect.
   */
  wrapResponse(wrap: StreamWrapper): void {
    if (typeof wrap !== "function") throw new TypeError("wrapResponse(): wrap must be a function");
    if (streamsResponses(this.kind)) (this.#responseWrappers ??= []).push({ wrap, name: this.#current() });
  }

  /**
   * Says the response stream is set up before it has a message to send: a host with response
   * headers (gRPC) sends them now instead of with the first message, so a client that waits
   * for them knows, for instance, that a Watch has subscribed. Other hosts: no effect.
   */
  sendHeaders(): void {}

  /** The response to send: none when the call failed (a failed handler's partial response never leaves). */
  get responseToSend(): unknown {
    return this.failure === undefined ? this.response : undefined;
  }

  /** The middleware that ended the call with an error status, if one did (not the handler). */
  get interceptorFailed(): string | undefined {
    const at = this.failure?.at;
    return at === HANDLER || at === PIPELINE ? undefined : at;
  }

  /**
   * Ends the call with `code` by throwing a {@link StatusError}, like Koa's `ctx.throw`.
   *
   * @example
   *   if (!ctx.state.principal.admin) ctx.throw(Status.PERMISSION_DENIED, "admins only");
   */
  throw(code: StatusName, message?: string, details?: Readonly<Record<string, unknown>>): never {
    throw new StatusError(code, message, details === undefined ? {} : { details });
  }

  /** The middleware running now: the innermost entered. */
  #current(): string {
    return this.applied[this.applied.length - 1] ?? HANDLER;
  }

  static {
    callInternals.aborted = (ctx) => ctx.#controller?.signal.aborted === true;
    callInternals.hostSignal = (ctx) => ctx.#hostSignal;
    callInternals.received = (ctx) => void ctx.#received++;
    callInternals.sent = (ctx) => void ctx.#sent++;
    callInternals.edgeReading = (ctx, clock, leaving) => (ctx.#edgeClock === clock && ctx.#edgeLeaving === leaving ? ctx.#edgeAt : undefined);
    callInternals.setEdgeReading = (ctx, clock, leaving, at) => {
      ctx.#edgeClock = clock;
      ctx.#edgeLeaving = leaving;
      ctx.#edgeAt = at;
    };
    callInternals.forgetEdgeReading = (ctx, clock) => {
      if (ctx.#edgeClock === clock) ctx.#edgeClock = undefined;
    };
    callInternals.responseStream = (ctx, stream) => {
      const wrappers = ctx.#responseWrappers;
      if (wrappers === undefined) return stream;
      // The innermost middleware's wrapper reads the handler's stream; the outermost's, last.
      let wrapped = stream;
      for (let i = wrappers.length - 1; i >= 0; i--) {
        const { wrap, name } = wrappers[i] as ResponseWrapper;
        wrapped = wrapBlaming(wrapped, wrap, name);
      }
      return wrapped;
    };
  }
}
