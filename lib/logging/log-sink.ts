import { openSync, write, writeSync } from "node:fs";

/** Options of {@link LogSink}. */
export interface LogSinkOptions {
  /** A file descriptor (default 2, stderr) or a path, opened for appending (and left open, as pino.destination does). */
  readonly destination?: number | string;
  /** Pending bytes (UTF-16 units, near enough) that start a write at once. Default 64 KiB. */
  readonly batchBytes?: number;
  /**
   * The longest a line waits for others to share its write, in ms. Default 10: lines reach the
   * destination at most that late, and a host answering one call per turn (gRPC) makes one
   * write per 10 ms instead of one per call. 0 writes at the end of every turn of the event loop.
   */
  readonly maxDelayMs?: number;
  /**
   * Most bytes (UTF-16 units, near enough) waiting behind a write that has not finished; lines
   * beyond are dropped and counted. Default 1 MiB: what a reader that keeps up never reaches.
   */
  readonly maxPendingBytes?: number;
}

/** How long to wait before retrying a write the descriptor refused with EAGAIN, and how often. */
const RETRY_MS = 10;
const RETRIES = 100;
/**
 * The line that takes the place of `count` dropped lines, in pino's shape at warn level, so
 * that whoever reads the log sees the gap where it was.
 */
const droppedLine = (count: number): string => `{"level":40,"time":${Date.now()},"pid":${process.pid},"dropped":${count},"msg":"${count} log lines dropped: the log destination did not take them fast enough"}\n`;

/** Sinks alive, for the exit hook; a collected sink's entry is removed by the registry. */
const live = new Set<WeakRef<LogSink>>();
const collected = new FinalizationRegistry<WeakRef<LogSink>>((ref) => live.delete(ref));
let exitHooked = false;
let exiting = false;

/**
 * The stream pino writes its lines to: asynchronous and batched. Each line is encoded at once
 * into one of two buffers; one `fs.write`, `maxDelayMs` after the first line waiting (or at
 * once, past `batchBytes`), takes a buffer's lines to the descriptor on the thread pool, while
 * the next lines go into the other buffer, so logging never blocks a call. A write costs more
 * than the few lines one turn of a busy server logs, so lines wait a little to share one. A line that finds no room
 * (longer than what is left while a write is in flight) waits as text, and every line after it
 * too, which keeps them in order.
 *
 * Not pino.destination (sonic-boom): its write() measures the byte length of its whole pending
 * buffer on every line, flattening the string each time (measured: a seventh of bin/node's CPU
 * time at one log line per call). Encoding each line into a buffer at once, instead of joining
 * the lines of a turn into one string and encoding that, lets every line's string die young.
 *
 * A pending write keeps the process alive until the lines are out; {@link flushSync} and, for
 * a process that calls `process.exit()`, an exit hook write the rest synchronously.
 *
 * Bounded: while a write has not finished, at most `maxPendingBytes` wait behind it; further
 * lines are dropped, counted, and replaced by one line "N log lines dropped" once there is room
 * again. Dropping rather than pushing back, because the only back-pressure a logger can apply
 * is to block or delay the calls that log, and a supervisor that never reads stderr (a common
 * one) would then stall every reply: the replies are the product, the log lines are not.
 */
export class LogSink {
  readonly #fd: number;
  readonly #batchBytes: number;
  readonly #maxDelayMs: number;
  readonly #maxPendingBytes: number;
  /** Lines dropped since the last one written; reported by one line before the next. */
  #dropped = 0;
  /** Where new lines are encoded; `#used` bytes of it hold lines not yet written. */
  #fill: Buffer;
  #used = 0;
  /** The other buffer, while no write holds it. */
  #spare: Buffer | undefined;
  /** Lines that found no room in `#fill`; while there are any, later lines queue here too. */
  #overflow = "";
  /** The bytes of the write in flight, and the buffer they are in when it is one of ours. */
  #writing: Buffer | undefined;
  #writingBuffer: Buffer | undefined;
  #scheduled = false;
  readonly #ref = new WeakRef(this);

  constructor(options: LogSinkOptions = {}) {
    const destination = options.destination ?? 2;
    this.#fd = typeof destination === "string" ? openSync(destination, "a") : destination;
    this.#batchBytes = options.batchBytes ?? 64 * 1024;
    if (!Number.isInteger(this.#batchBytes) || this.#batchBytes < 1) throw new RangeError("LogSink: batchBytes must be an integer >= 1");
    this.#maxDelayMs = options.maxDelayMs ?? 10;
    if (!Number.isFinite(this.#maxDelayMs) || this.#maxDelayMs < 0) throw new RangeError("LogSink: maxDelayMs must be a finite number >= 0");
    this.#maxPendingBytes = options.maxPendingBytes ?? 1024 * 1024;
    if (!Number.isInteger(this.#maxPendingBytes) || this.#maxPendingBytes < 1) throw new RangeError("LogSink: maxPendingBytes must be an integer >= 1");
    // Room for a full batch and the line that completes it, mostly.
    this.#fill = Buffer.allocUnsafeSlow(2 * this.#batchBytes);
    this.#spare = Buffer.allocUnsafeSlow(2 * this.#batchBytes);
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

  /** Queues one or more complete lines, or drops them past `maxPendingBytes`; always true (it never pushes back). */
  write(text: string): boolean {
    if (this.#writing !== undefined && this.#used + this.#overflow.length + text.length > this.#maxPendingBytes) {
      this.#dropped++;
      return true;
    }
    if (this.#dropped > 0) {
      text = droppedLine(this.#dropped) + text;
      this.#dropped = 0;
    }
    // A UTF-16 unit takes at most 3 bytes in UTF-8 (a surrogate pair 4 for 2 units).
    if (this.#overflow === "" && text.length * 3 <= this.#fill.length - this.#used) this.#used += this.#fill.write(text, this.#used);
    else this.#overflow += text;
    if (this.#writing === undefined) {
      if (this.#used >= this.#batchBytes || this.#overflow !== "") this.#start();
      else if (!this.#scheduled) this.#schedule();
    }
    return true;
  }

  /**
   * Writes whatever is queued now, synchronously. While an asynchronous write is in flight the
   * rest follows it asynchronously instead (writing it now could put lines out of order), and
   * so does what the destination will not take at once (a pipe whose reader is slow: EAGAIN):
   * an asynchronous write waits as long as it takes and keeps the process alive until it is
   * done, where giving up would lose the lines (bin/node's last "stopped" line among them).
   * At process exit, when nothing asynchronous can finish any more, it writes everything,
   * retrying EAGAIN for up to a second.
   */
  flushSync(): void {
    if (this.#writing !== undefined && !exiting) return;
    const encoded = this.#fill.subarray(0, this.#used);
    const overflow = this.#dropped > 0 ? this.#overflow + droppedLine(this.#dropped) : this.#overflow;
    this.#dropped = 0;
    this.#used = 0;
    this.#overflow = "";
    let rest = this.#writeSync(encoded);
    if (rest.length === 0 && overflow !== "") rest = this.#writeSync(Buffer.from(overflow));
    else this.#overflow = overflow;
    if (rest.length === 0 || exiting) return;
    // A copy: the rest may lie in the buffer the next lines are encoded into.
    this.#writingBuffer = undefined;
    this.#writing = Buffer.from(rest);
    write(this.#fd, this.#writing, 0, this.#writing.length, null, this.#onWritten);
  }

  /**
   * Writes as much of `chunk` as the destination takes now; returns the rest (empty when all
   * went). At exit it retries EAGAIN for up to RETRIES x RETRY_MS; otherwise it stops at the
   * first EAGAIN, for the caller to write the rest asynchronously. Any other error drops the
   * chunk: there is nowhere to report a failing log destination.
   */
  #writeSync(chunk: Buffer): Buffer {
    for (let retries = 0; chunk.length > 0; ) {
      try {
        chunk = chunk.subarray(writeSync(this.#fd, chunk));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return chunk.subarray(chunk.length);
        if (!exiting || ++retries > RETRIES) return chunk;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_MS);
      }
    }
    return chunk;
  }

  /** Writes what is queued after `maxDelayMs` (or at the end of the turn, for 0). */
  #schedule(): void {
    this.#scheduled = true;
    if (this.#maxDelayMs === 0) setImmediate(this.#onTimer);
    else setTimeout(this.#onTimer, this.#maxDelayMs);
  }

  readonly #onTimer = (): void => {
    this.#scheduled = false;
    if (this.#writing === undefined && (this.#used > 0 || this.#overflow !== "")) this.#start();
  };

  /** Starts writing what is queued; nothing may be in flight. */
  #start(): void {
    if (this.#used > 0) {
      this.#writingBuffer = this.#fill;
      this.#writing = this.#fill.subarray(0, this.#used);
      this.#fill = this.#spare ?? Buffer.allocUnsafeSlow(this.#fill.length);
      this.#spare = undefined;
      this.#used = 0;
      // Lines that waited as text go into the fresh buffer, ahead of any later line.
      if (this.#overflow !== "" && this.#overflow.length * 3 <= this.#fill.length) {
        this.#used = this.#fill.write(this.#overflow, 0);
        this.#overflow = "";
      }
    } else {
      this.#writingBuffer = undefined;
      this.#writing = Buffer.from(this.#overflow);
      this.#overflow = "";
    }
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
    if (this.#writingBuffer !== undefined) this.#spare = this.#writingBuffer;
    this.#writingBuffer = undefined;
    // What came in meanwhile goes now only if it is a full batch; otherwise after the delay,
    // with whatever else comes in by then.
    if (this.#used >= this.#batchBytes || this.#overflow !== "") this.#start();
    else if (this.#used > 0 && !this.#scheduled) this.#schedule();
  };
}
