import { openSync, write, writeSync } from "node:fs";

/** Options of {@link LogSink}. */
export interface LogSinkOptions {
  /** A file descriptor (default 2, stderr) or a path, opened for appending (and left open, as pino.destination does). */
  readonly destination?: number | string;
  /** Pending bytes (UTF-16 units, near enough) that start a write before the end of the turn. Default 64 KiB. */
  readonly batchBytes?: number;
}

/** How long to wait before retrying a write the descriptor refused with EAGAIN, and how often. */
const RETRY_MS = 10;
const RETRIES = 100;
/** Sinks alive, for the exit hook; a collected sink's entry is removed by the registry. */
const live = new Set<WeakRef<LogSink>>();
const collected = new FinalizationRegistry<WeakRef<LogSink>>((ref) => live.delete(ref));
let exitHooked = false;
let exiting = false;

/**
 * The stream pino writes its lines to: asynchronous and batched. Lines are appended to one
 * string; one `fs.write` per turn of the event loop (or sooner, past `batchBytes`) takes them to
 * the descriptor on the thread pool, so logging never blocks a call. While a write is in flight
 * new lines wait for it, which keeps them in order.
 *
 * It replaces pino.destination (sonic-boom), whose write() measures the byte length of its whole
 * pending buffer on every line (flattening the string each time): 15% of bin/node's CPU time at
 * one log line per call (issue 6).
 *
 * A pending write keeps the process alive until the lines are out; {@link flushSync} and, for
 * a process that calls `process.exit()`, an exit hook write the rest synchronously.
 */
export class LogSink {
  readonly #fd: number;
  readonly #batchBytes: number;
  #pending = "";
  #writing: Buffer | undefined;
  #scheduled = false;
  readonly #ref = new WeakRef(this);

  constructor(options: LogSinkOptions = {}) {
    const destination = options.destination ?? 2;
    this.#fd = typeof destination === "string" ? openSync(destination, "a") : destination;
    this.#batchBytes = options.batchBytes ?? 64 * 1024;
    live.add(this.#ref);
    collected.register(this, this.#ref);
    if (!exitHooked) {
      exitHooked = true;
      process.once("exit", () => {
        exiting = true;
        for (const ref of live) ref.deref()?.flushSync();
      });
    }
  }

  /** Queues one or more complete lines; always true (the sink buffers, it never pushes back). */
  write(text: string): boolean {
    this.#pending += text;
    if (this.#writing === undefined) {
      if (this.#pending.length >= this.#batchBytes) this.#start();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#onTurn);
      }
    }
    return true;
  }

  /**
   * Writes whatever is queued now, synchronously. While an asynchronous write is in flight the
   * rest follows it asynchronously instead (writing it now could put lines out of order), except
   * at process exit, when nothing asynchronous can finish any more.
   */
  flushSync(): void {
    if (this.#writing !== undefined && !exiting) return;
    let chunk = Buffer.from(this.#pending);
    this.#pending = "";
    for (let retries = 0; chunk.length > 0; ) {
      try {
        chunk = chunk.subarray(writeSync(this.#fd, chunk));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || ++retries > RETRIES) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_MS);
      }
    }
  }

  readonly #onTurn = (): void => {
    this.#scheduled = false;
    if (this.#writing === undefined && this.#pending !== "") this.#start();
  };

  #start(): void {
    this.#writing = Buffer.from(this.#pending);
    this.#pending = "";
    write(this.#fd, this.#writing, 0, this.#writing.length, null, this.#onWritten);
  }

  readonly #onWritten = (error: NodeJS.ErrnoException | null, written: number): void => {
    const chunk = this.#writing;
    if (chunk === undefined) return;
    if (error !== null) {
      if (error.code === "EAGAIN") {
        setTimeout(() => write(this.#fd, chunk, 0, chunk.length, null, this.#onWritten), RETRY_MS);
        return;
      }
      // Nowhere to report a failing log destination: drop this batch and carry on.
      written = chunk.length;
    }
    if (written < chunk.length) {
      this.#writing = chunk.subarray(written);
      write(this.#fd, this.#writing, 0, this.#writing.length, null, this.#onWritten);
      return;
    }
    this.#writing = undefined;
    // What came in meanwhile goes now only if it is a full batch; otherwise at the end of the
    // turn, with whatever else the turn adds (a write per few lines costs more than the lines).
    if (this.#pending.length >= this.#batchBytes) this.#start();
    else if (this.#pending !== "" && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#onTurn);
    }
  };
}
