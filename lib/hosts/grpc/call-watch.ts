import type { EventEmitter } from "node:events";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";

/** The reason a call is cancelled with when the server shuts down with the call still open. */
export const SHUTTING_DOWN = (): StatusError => new StatusError(Status.UNAVAILABLE, "the server is shutting down");

/** How close to the deadline a client's cancel counts as the deadline (see #onCancelled). */
const DEADLINE_SLACK_MS = 50;

const DEADLINE = (): StatusError => new StatusError(Status.DEADLINE_EXCEEDED, "deadline exceeded");

/**
 * Watches one gRPC call for what ends it early and cancels the call's context with a
 * StatusError saying which: the client cancels (CANCELLED), the call's deadline (`grpc-timeout`)
 * passes (DEADLINE_EXCEEDED), or the server shuts down (UNAVAILABLE, through {@link abort}).
 * Owns its timer and its listener: {@link release} frees both, once the call has been answered.
 *
 * It calls `cancel` (the context's) rather than owning an AbortController of its own, so a call
 * that nothing cuts short makes no signal at all: `ctx.signal` is made when a middleware or
 * handler reads it, or when the call is cancelled.
 */
export class CallWatch {
  readonly #call: EventEmitter;
  readonly #cancel: (reason: StatusError) => void;
  readonly #deadline: number;
  #timer: NodeJS.Timeout | undefined = undefined;
  // grpc-js ends a call whose deadline passed with its own timer, and then reports it cancelled,
  // usually before this one's timer fires: past the deadline, a cancel is the deadline. So is a
  // cancel just before it: a client whose own deadline passes resets the stream, and that can
  // reach the server before the server's copy of the deadline (counted from when the headers
  // arrived, and rounded by grpc-timeout's units) has passed.
  readonly #onCancelled = (): void => this.abort(Date.now() >= this.#deadline - DEADLINE_SLACK_MS ? DEADLINE() : new StatusError(Status.CANCELLED, "cancelled by the client"));

  /** `deadline` is grpc-js's: a Date or epoch ms, Infinity for none; `cancel` cancels the call (the first reason stays). */
  constructor(call: EventEmitter, deadline: Date | number, cancel: (reason: StatusError) => void) {
    this.#call = call;
    this.#cancel = cancel;
    call.on("cancelled", this.#onCancelled);
    this.#deadline = deadline instanceof Date ? deadline.getTime() : deadline;
    if (Number.isFinite(this.#deadline)) this.#timer = setTimeout(() => this.abort(DEADLINE()), Math.max(0, this.#deadline - Date.now()));
  }

  /** Cancels the call with `reason`, unless something cancelled it first. */
  abort(reason: StatusError): void {
    this.#cancel(reason);
  }

  /** Stops watching the call: clears the deadline timer and the cancel listener. */
  release(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#call.removeListener("cancelled", this.#onCancelled);
  }
}
