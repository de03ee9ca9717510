import { Status } from "../core/status.js";
import { StatusError } from "../core/status-error.js";

/**
 * Hands a streamed response's messages from the transport to the reader one at a time:
 * `push()` resolves only once the reader has pulled that message, so the server is never more
 * than one message ahead of a reader that stops reading (back-pressure, no buffer). The reader
 * returning early (a `break` out of `for await`) calls `onReturn` once: the client cancels the
 * call with it.
 */
export class Handoff implements AsyncIterableIterator<unknown> {
  readonly #onReturn: () => void;
  /** A message waiting for the reader, and how to tell its pusher it was taken. */
  #offered: { readonly message: unknown; readonly taken: () => void } | undefined = undefined;
  /** A reader waiting for a message. */
  #reader: { readonly resolve: (step: IteratorResult<unknown>) => void; readonly reject: (error: unknown) => void } | undefined = undefined;
  #ended = false;
  #error: unknown = undefined;
  #returned = false;

  constructor(onReturn: () => void) {
    this.#onReturn = onReturn;
  }

  /** Offers the next message; resolves once the reader has taken it, rejects with CANCELLED when the reader has left. */
  push(message: unknown): Promise<void> {
    if (this.#returned) return Promise.reject(new StatusError(Status.CANCELLED, "the reader stopped reading"));
    const reader = this.#reader;
    if (reader !== undefined) {
      this.#reader = undefined;
      reader.resolve({ value: message, done: false });
      return Promise.resolve();
    }
    return new Promise((taken) => (this.#offered = { message, taken }));
  }

  /** Ends the stream: the reader sees its end, or `error` (a non-OK status) after the last message. */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    const reader = this.#reader;
    this.#reader = undefined;
    if (reader === undefined) return;
    if (error === undefined) reader.resolve({ value: undefined, done: true });
    else reader.reject(error);
  }

  next(): Promise<IteratorResult<unknown>> {
    const offered = this.#offered;
    if (offered !== undefined) {
      this.#offered = undefined;
      offered.taken();
      return Promise.resolve({ value: offered.message, done: false });
    }
    if (this.#ended) {
      const error = this.#error;
      this.#error = undefined;
      return error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(error);
    }
    return new Promise((resolve, reject) => (this.#reader = { resolve, reject }));
  }

  return(): Promise<IteratorResult<unknown>> {
    if (!this.#returned && !this.#ended) {
      this.#returned = true;
      this.#offered?.taken();
      this.#offered = undefined;
      this.#onReturn();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
