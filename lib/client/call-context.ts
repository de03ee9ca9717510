import { CallKind } from "../core/call-kind.js";
import { Metadata } from "../core/metadata.js";
import { Status, type StatusName } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import type { Deadline } from "./deadline.js";
import type { Reply } from "./transport.js";

/** What the client knows about an outbound call when it creates the context. */
export interface ClientCallInit<S extends object> {
  readonly service: string;
  readonly method: string;
  readonly request: unknown;
  /** Metadata to send; never modified (middleware add to a copy). */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** Cancels the call. */
  readonly signal?: AbortSignal | undefined;
  readonly state?: S;
  /** The kind of call; `unary` by default. */
  readonly kind?: CallKind | undefined;
}

/**
 * One outbound call on its way through the client middleware: what is asked (service, method,
 * request, metadata), how long it may take (`signal`, `deadline`), which attempt this is, and,
 * once `await next()` has returned, how it ended (`status`, `response`, `error`).
 *
 * Contract: `next()` never rejects. However a call ends (an answer, a deadline, a lost
 * connection, a middleware throwing), the outcome is on the context when `next()` returns.
 *
 * @example
 *   async function timing(ctx: ClientCallContext, next: Next) {
 *     const start = Date.now();
 *     await next();
 *     metrics.observe(ctx.path, ctx.status, Date.now() - start);
 *   }
 */
export class ClientCallContext<S extends object = object> {
  readonly service: string;
  readonly method: string;
  /** `Service/Method`, the name retry and cache options use. */
  readonly path: string;
  /** Which of the four kinds of call this is; for a streamed request, `request` is an AsyncIterable. */
  readonly kind: CallKind;
  /**
   * For `server_stream` and `bidi`: where each response message goes (the caller's iterator).
   * A middleware may wrap it to see every message; the next is delivered once its promise settles.
   */
  receive: ((message: unknown) => Promise<void>) | undefined = undefined;
  request: unknown;
  readonly metadata: Metadata;
  /** Aborts the call; `deadline()` replaces it, for the layers inside it, by one that also fires at the deadline. */
  signal: AbortSignal | undefined;
  /** When the call must be over by, if a deadline applies; its budget goes out as `grpc-timeout`. */
  deadline: Deadline | undefined = undefined;
  /** 1 for the first attempt; `retry()` counts up. */
  attempt = 1;
  state: S;
  /** How the call ended; UNKNOWN until the transport or a middleware answers. */
  status: StatusName = Status.UNKNOWN;
  /** The response message, if the answer carried one. */
  response: unknown = undefined;
  /** Why the call did not end OK: the message and cause behind `status`. */
  error: StatusError | undefined = undefined;
  /** The server interceptors the call passed (bin/node's `interceptors_applied`). */
  interceptorsApplied: readonly string[] | undefined = undefined;
  /** The server interceptor that stopped the call (bin/node's `interceptor_failed`). */
  interceptorFailed: string | undefined = undefined;
  /** The server's retry hint, in ms, when its answer carried one (see {@link Reply.retryAfterMs}); negative: do not retry. */
  retryAfterMs: number | undefined = undefined;

  constructor(init: ClientCallInit<S>) {
    this.service = init.service;
    this.method = init.method;
    this.path = `${init.service}/${init.method}`;
    this.kind = init.kind ?? CallKind.UNARY;
    this.request = init.request;
    this.metadata = new Metadata(init.metadata);
    this.signal = init.signal;
    this.state = init.state ?? ({} as S);
  }

  /** Records the server's answer as the outcome. */
  respond(reply: Reply): void {
    this.status = reply.status;
    this.response = reply.response;
    this.interceptorsApplied = reply.interceptorsApplied;
    this.interceptorFailed = reply.interceptorFailed;
    this.retryAfterMs = reply.retryAfterMs;
    this.error = reply.status === Status.OK ? undefined : answeredError(this.path, reply);
  }

  /** Records a failure as the outcome: no response, `error.code` as the status. */
  fail(error: StatusError): void {
    this.status = error.code;
    this.response = undefined;
    this.error = error;
    this.interceptorsApplied = undefined;
    this.interceptorFailed = undefined;
    this.retryAfterMs = undefined;
  }

  /** Forgets the outcome of a previous attempt; the pipeline calls it before each re-send. */
  clearOutcome(): void {
    this.status = Status.UNKNOWN;
    this.response = undefined;
    this.error = undefined;
    this.interceptorsApplied = undefined;
    this.interceptorFailed = undefined;
    this.retryAfterMs = undefined;
  }

  /**
   * Ends the call here with `code`, like the server's `ctx.throw`: the layers outside see it as
   * the outcome.
   */
  throw(code: StatusName, message?: string): never {
    throw new StatusError(code, message);
  }
}

function answeredError(path: string, reply: Reply): StatusError {
  const by = reply.interceptorFailed === undefined ? "" : ` (stopped by the server's ${reply.interceptorFailed} interceptor)`;
  const said = reply.message === undefined || reply.message === "" || reply.message === reply.status ? "" : `: ${reply.message}`;
  const details = reply.response === undefined ? undefined : { response: reply.response };
  return new StatusError(reply.status, `${path}: the server answered ${reply.status}${by}${said}`, details === undefined ? {} : { details });
}
