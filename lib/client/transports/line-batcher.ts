import type { Writable } from "node:stream";

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

  constructor(output: Writable) {
    this.#output = output;
    output.on("drain", this.#onDrain);
  }

  /** Queues one line, with its newline. */
  write(line: string): void {
    if (this.#stopped) return;
    this.#buffer += line;
    if (this.#scheduled || this.#waitingForDrain) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
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
  };
}
