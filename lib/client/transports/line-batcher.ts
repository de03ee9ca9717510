import type { Writable } from "node:stream";

/** Bytes held that force a write before the end of the turn. */
const BATCH_BYTES = 64 * 1024;

/**
 * Batches the lines bound for a stream, the writing counterpart of `LineReader`: lines queued in
 * one turn of the event loop go out in one `write()`, and while the stream wants us to wait
 * ('drain') they are held here instead of piling into it.
 */
export class LineBatcher {
  readonly #output: Writable;
  #buffer = "";
  #scheduled = false;
  #waitingForDrain = false;
  #stopped = false;
  #writers: (() => void)[] = [];

  constructor(output: Writable) {
    this.#output = output;
    output.on("drain", this.#onDrain);
  }

  /** Queues one line, with its newline. */
  write(line: string): void {
    if (this.#stopped) return;
    this.#buffer += line;
    if (this.#waitingForDrain) return;
    // A writer that never yields to the event loop (a request stream from an array) still
    // reaches the stream, and so its 'drain', every 64 KiB.
    if (this.#buffer.length >= BATCH_BYTES) return this.#flush();
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  /**
   * Undefined while the stream takes more; while it wants us to wait, a promise that resolves
   * at its 'drain' (or at once once stopped). A writer that awaits it holds at most one batch.
   */
  writable(): Promise<void> | undefined {
    if (!this.#waitingForDrain || this.#stopped) return undefined;
    return new Promise((resolve) => this.#writers.push(resolve));
  }

  /** Writes what is held, even while waiting for 'drain' (the stream queues it), and ends the stream. */
  end(): void {
    const rest = this.#buffer;
    this.stop();
    this.#output.end(rest);
  }

  /** Drops what is held and writes nothing more; the stream is left as it is. */
  stop(): void {
    this.#stopped = true;
    this.#buffer = "";
    this.#output.removeListener("drain", this.#onDrain);
    this.#releaseWriters();
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#buffer === "" || this.#waitingForDrain || this.#stopped) return;
    const chunk = this.#buffer;
    this.#buffer = "";
    if (!this.#output.write(chunk)) this.#waitingForDrain = true;
  };

  readonly #onDrain = (): void => {
    this.#waitingForDrain = false;
    this.#flush();
    if (!this.#waitingForDrain) this.#releaseWriters();
  };

  #releaseWriters(): void {
    const writers = this.#writers;
    this.#writers = [];
    for (const resolve of writers) resolve();
  }
}
