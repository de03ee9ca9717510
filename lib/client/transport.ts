import type { CallKind } from "../core/call-kind.js";
import type { StatusName } from "../core/status.js";

/** One call as it leaves the client pipeline for the transport. */
export interface OutgoingCall {
  readonly service: string;
  readonly method: string;
  readonly request: unknown;
  /** Lower-cased keys; includes `grpc-timeout` when the call has a deadline. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Aborts the call: the transport stops waiting and rejects with the signal's reason. */
  readonly signal: AbortSignal | undefined;
}

/**
 * A streaming call as it leaves the client pipeline: for `client_stream` and `bidi`, `request`
 * is an AsyncIterable of the request messages, and its end is the client's half-close.
 */
export interface OutgoingStreamCall extends OutgoingCall {
  readonly kind: CallKind;
}

/** Where a streamed response's messages go: the next is delivered once the promise settles. */
export type Receive = (message: unknown) => Promise<void>;

/** What the server answered, in the terms of the wire (docs/protocol.md, `grpc_call_ok`). */
export interface Reply {
  readonly status: StatusName;
  /** The response message, when the server sent one (NOT_FOUND from KeyValue/Get does). */
  readonly response?: unknown;
  /** The server interceptors the call passed, when it passed them all. */
  readonly interceptorsApplied?: readonly string[] | undefined;
  /** The server interceptor that stopped the call, if one did. */
  readonly interceptorFailed?: string | undefined;
  /** The server's message for a status other than OK, when the wire carries one (gRPC's grpc-message). */
  readonly message?: string | undefined;
  /**
   * How long the server asked the client to wait before retrying, in ms, when it said
   * (gRPC: google.rpc.RetryInfo, or the `grpc-retry-pushback-ms` trailer of gRFC A6, where a
   * negative value means "do not retry").
   */
  readonly retryAfterMs?: number | undefined;
}

/**
 * The end of the outbound pipeline: carries one call to a server and brings its answer back.
 *
 * `unary()` resolves with the server's answer whatever its status (a NOT_FOUND is an answer).
 * It rejects only when no answer can come, with a StatusError (or anything
 * `StatusError.from` understands): the signal's reason when `call.signal` aborts (CANCELLED,
 * or DEADLINE_EXCEEDED from a deadline), UNAVAILABLE when the connection is closed or lost.
 */
export interface Transport {
  unary(call: OutgoingCall): Promise<Reply>;
  /**
   * A call of any kind with streams: each response message goes to `receive` (the transport
   * waits for its promise before taking the next), and it resolves with the server's final
   * answer (status, attribution; a response only for `client_stream`) or rejects as `unary()`
   * does. A transport without it cannot stream (the client answers UNIMPLEMENTED).
   */
  stream?(call: OutgoingStreamCall, receive: Receive): Promise<Reply>;
  /** Stops taking calls and releases what the transport holds; resolves once it has. */
  close(): Promise<void>;
}
