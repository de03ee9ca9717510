import { Status } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import type { Change } from "./store.js";

/** Changes a watcher may have waiting before its feed ends with RESOURCE_EXHAUSTED. */
export const DEFAULT_MAX_PENDING_CHANGES = 1024;

/**
 * One watcher's changes between the store that publishes them and the reader that pulls them:
 * a queue bounded by `maxPending` (a reader that falls further behind gets RESOURCE_EXHAUSTED
 * and the feed is closed: the store never buffers without bound for a slow reader). It closes
 * when `signal` aborts or the reader returns it, and then calls `onClose` once (the store's
 * unsubscribe), releasing its abort listener.
 */
export class ChangeFeed implements AsyncIterableIterator<Change> {
  readonly #queue: Change[] = [];
  readonly #maxPending: number;
  readonly #signal: AbortSignal;
  readonly #onClose: () => void;
  #waiting: ((step: IteratorResult<Change>) => void) | undefined = undefined;
  #failWaiting: ((error: unknown) => void) | undefined = undefined;
  #closed = false;
  #failure: StatusError | undefined = undefined;
  readonly #onAbort = (): void => void this.#close();

  constructor(signal: AbortSignal, onClose: () => void, maxPending = DEFAULT_MAX_PENDING_CHANGES) {
    this.#signal = signal;
    this.#onClose = onClose;
    this.#maxPending = maxPending;
    // Aborted already: closed from the start, never subscribed, nothing to release.
    if (signal.aborted) this.#closed = true;
    else signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Hands a change to the reader, or queues it; a full queue ends the feed. */
  publish(change: Change): void {
    if (this.#closed) return;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = this.#failWaiting = undefined;
      waiting({ value: change, done: false });
      return;
    }
    if (this.#queue.length >= this.#maxPending) {
      this.fail(new StatusError(Status.RESOURCE_EXHAUSTED, `watcher fell more than ${this.#maxPending} changes behind`));
      return;
    }
    this.#queue.push(change);
  }

  /** Ends the feed with `error` (the changes waiting are dropped): its reader gets it next. */
  fail(error: StatusError): void {
    if (this.#closed) return;
    this.#failure = error;
    this.#queue.length = 0;
    this.#close();
  }

  next(): Promise<IteratorResult<Change>> {
    const change = this.#queue.shift();
    if (change !== undefined) return Promise.resolve({ value: change, done: false });
    if (this.#failure !== undefined) {
      const error = this.#failure;
      this.#failure = undefined;
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<Change>> {
    this.#queue.length = 0;
    this.#close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#onClose();
    const waiting = this.#waiting;
    const failWaiting = this.#failWaiting;
    this.#waiting = this.#failWaiting = undefined;
    if (this.#failure !== undefined && failWaiting !== undefined) {
      const error = this.#failure;
      this.#failure = undefined;
      failWaiting(error);
    } else waiting?.({ value: undefined, done: true });
  }
}
