/**
 * The request messages of one stdio stream, as the handler reads them: the host pushes each
 * `grpc_stream_msg` as it is read from stdin and ends the queue at the half-close; the call's
 * pipeline pulls them one at a time. At most `limit` messages wait unread; `push()` refuses the
 * next one so the host can end the call (the reader is too slow for the writer). `onQueued`
 * hears of every message that starts or stops waiting (+1, -n), so the node can count them as
 * work in flight. Single reader.
 */
export class RequestQueue implements AsyncIterable<unknown> {
  readonly #limit: number;
  readonly #onQueued: (delta: number) => void;
  #messages: unknown[] = [];
  #head = 0;
  #ended = false;
  #waiting: ((step: IteratorResult<unknown, undefined>) => void) | undefined = undefined;

  constructor(limit: number, onQueued: (delta: number) => void = () => {}) {
    this.#limit = limit;
    this.#onQueued = onQueued;
  }

  /** Messages pushed and not yet read. */
  get size(): number {
    return this.#messages.length - this.#head;
  }

  /** Whether the half-close came (or the reader stopped). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Queues one message; false when `limit` messages already wait unread, or the queue has ended. */
  push(message: unknown): boolean {
    if (this.#ended) return false;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting({ value: message, done: false });
      return true;
    }
    if (this.size >= this.#limit) return false;
    this.#messages.push(message);
    this.#onQueued(1);
    return true;
  }

  /** The half-close: the reader gets what is queued, then the end. */
  end(): void {
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  /** The call is over, read to its end or not: drops what waits (released from the count); later pushes are refused. */
  close(): void {
    if (this.size > 0) this.#onQueued(-this.size);
    this.#messages = [];
    this.#head = 0;
    this.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown, undefined> {
    return {
      next: () => {
        if (this.#head < this.#messages.length) {
          const value = this.#messages[this.#head];
          this.#messages[this.#head++] = undefined;
          if (this.#head === this.#messages.length) {
            this.#messages = [];
            this.#head = 0;
          }
          this.#onQueued(-1);
          return Promise.resolve({ value, done: false });
        }
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.#waiting = resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
