import { Status, type StatusName, httpStatus, isServerFault } from "./status.js";

/** Options of {@link StatusError}: the original error, and fields for the logs. */
export interface StatusErrorOptions {
  /** What caused it; logged, never sent. */
  readonly cause?: unknown;
  /** Structured facts for the logs (a retry delay, a limit); never sent on the wire by default. */
  readonly details?: Readonly<Record<string, unknown>>;
  /**
   * Response headers for an HTTP host (`WWW-Authenticate`, `Retry-After`); Koa's `ctx.onerror`
   * sends them with the error's status. The RPC host ignores them.
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The one error type that crosses the pipeline: a gRPC status with a message for the logs.
 * Throw it from a middleware or handler to end the call with that status; anything else thrown
 * becomes INTERNAL (see {@link StatusError.from}) and its details are logged, never sent.
 *
 * @example
 *   throw new StatusError(Status.PERMISSION_DENIED, "tenant mismatch");
 */
export class StatusError extends Error {
  override readonly name = "StatusError";
  readonly code: StatusName;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  /** Response headers for an HTTP host; see {@link StatusErrorOptions.headers}. */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: StatusName, message: string = code, options: StatusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.headers = options.headers;
  }

  /** The matching HTTP status (google.rpc.Code mapping): UNAUTHENTICATED is 401, and so on. */
  get httpStatus(): number {
    return httpStatus[this.code];
  }

  /**
   * The same, under the name http-errors gives it: Koa's `ctx.onerror` answers a StatusError with
   * this status (and `headers`, and the message when `expose`), so a StatusError thrown into Koa
   * needs no mapping middleware.
   */
  get statusCode(): number {
    return httpStatus[this.code];
  }

  /** Whether the message may be shown to the caller (false for INTERNAL, UNKNOWN, DATA_LOSS). */
  get expose(): boolean {
    return !isServerFault(this.code);
  }

  /**
   * Normalises anything caught into a StatusError: a StatusError is returned as is, an
   * AbortError becomes CANCELLED, a TimeoutError DEADLINE_EXCEEDED, anything else INTERNAL with
   * the original as `cause`.
   */
  static from(error: unknown): StatusError {
    if (error instanceof StatusError) return error;
    if (error instanceof Error && error.name === "AbortError") return new StatusError(Status.CANCELLED, error.message, { cause: error });
    if (error instanceof Error && error.name === "TimeoutError") return new StatusError(Status.DEADLINE_EXCEEDED, error.message, { cause: error });
    const message = error instanceof Error ? error.message : String(error);
    return new StatusError(Status.INTERNAL, message, { cause: error });
  }
}
