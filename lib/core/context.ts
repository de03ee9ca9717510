import { Metadata } from "./metadata.js";
import { Status, type StatusName } from "./status.js";
import { StatusError } from "./status-error.js";

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
  /** Aborted when the call is cancelled or its deadline passes. */
  readonly signal?: AbortSignal;
}

/**
 * One RPC call on its way through the middleware: what was asked (service, method, request,
 * metadata, peer), what the middleware learned (`state`), and what will be answered (`status`,
 * `response`).
 *
 * `response` is `unknown` so that a later host can answer with an async iterable (a stream)
 * through the same middleware; `signal` carries cancellation and deadlines.
 *
 * @example
 *   async function audit(ctx: CallContext<{ principal: Principal }>, next: Next) {
 *     await next();
 *     log(ctx.state.principal.subject, ctx.service, ctx.method, ctx.status);
 *   }
 */
export class CallContext<S extends object = object> {
  readonly service: string;
  readonly method: string;
  request: unknown;
  readonly metadata: Metadata;
  readonly peer: string;
  state: S;
  readonly signal: AbortSignal | undefined;
  /** The status to answer with; OK until a middleware or handler says otherwise. */
  status: StatusName = Status.OK;
  /** The response message; undefined for none. */
  response: unknown = undefined;
  /** Wire names of the middleware the call has entered, outermost first. */
  readonly applied: string[] = [];
  /** Set by the pipeline when a middleware or the handler ends the call with an error status. */
  failure: Failure | undefined = undefined;

  constructor(init: CallInit<S>) {
    this.service = init.service;
    this.method = init.method;
    this.request = init.request;
    this.metadata = new Metadata(init.metadata);
    this.peer = init.peer;
    this.state = init.state ?? ({} as S);
    this.signal = init.signal;
  }

  /** The response to send: none when the call failed (a failed handler's partial response never leaves). */
  get responseToSend(): unknown {
    return this.failure === undefined ? this.response : undefined;
  }

  /** The middleware that ended the call with an error status, if one did (not the handler). */
  get interceptorFailed(): string | undefined {
    const at = this.failure?.at;
    return at === HANDLER ? undefined : at;
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
}
