import type { EventEmitter } from "node:events";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";

/** The reason `ctx.signal` carries when the server shuts down with the call still open. */
export const SHUTTING_DOWN = (): StatusError => new StatusError(Status.UNAVAILABLE, "the server is shutting down");

/** How close to the deadline a client's cancel counts as the deadline (see #onCancelled). */
const DEADLINE_SLACK_MS = 50;

const DEADLINE = (): StatusError => new StatusError(Status.DEADLINE_EXCEEDED, "deadline exceeded");

/**
 * The `ctx.signal` of one gRPC call: aborted with a StatusError reason when the client cancels
 * (CANCELLED), the call's deadline (`grpc-timeout`) passes (DEADLINE_EXCEEDED), or the server
 * shuts down (UNAVAILABLE, through {@link abort}). Owns its timer and its listener: {@link release}
 * frees both, once the call has been answered.
 */
export class CallSignal {
  readonly #controller = new AbortController();
  readonly #call: EventEmitter;
  readonly #deadline: number;
  #timer: NodeJS.Timeout | undefined = undefined;
  // grpc-js ends a call whose deadline passed with its own timer, and then reports it cancelled,
  // usually before this one's timer fires: past the deadline, a cancel is the deadline. So is a
  // cancel just before it: a client whose own deadline passes resets the stream, and that can
  // reach the server before the server's copy of the deadline (counted from when the headers
  // arrived, and rounded by grpc-timeout's units) has passed.
  readonly #onCancelled = (): void => this.abort(Date.now() >= this.#deadline - DEADLINE_SLACK_MS ? DEADLINE() : new StatusError(Status.CANCELLED, "cancelled by the client"));

  /** `deadline` is grpc-js's: a Date or epoch ms, Infinity for none. */
  constructor(call: EventEmitter, deadline: Date | number) {
    this.#call = call;
    call.on("cancelled", this.#onCancelled);
    this.#deadline = deadline instanceof Date ? deadline.getTime() : deadline;
    if (Number.isFinite(this.#deadline)) this.#timer = setTimeout(() => this.abort(DEADLINE()), Math.max(0, this.#deadline - Date.now()));
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Aborts with `reason` unless already aborted. */
  abort(reason: StatusError): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /** Stops watching the call: clears the deadline timer and the cancel listener. */
  release(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#call.removeListener("cancelled", this.#onCancelled);
  }
}
