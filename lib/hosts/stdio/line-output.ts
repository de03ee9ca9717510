import { fstatSync, writeSync } from "node:fs";
import type { Writable } from "node:stream";

/** Options of {@link LineOutput}. */
export interface LineOutputOptions {
  /** The stream's file descriptor, for the synchronous writes of {@link LineOutput.abandon}. */
  readonly fd: number;
  /** Called once everything held has been written, after a {@link LineOutput.write} returned false. */
  readonly onDrain: () => void;
  /**
   * Largest write handed to the stream, in bytes. Default 4096: Linux's PIPE_BUF. Infinity
   * hands over each batch whole, for an output where no write is ever left part done: see
   * {@link pieceBytesFor}.
   */
  readonly pieceBytes?: number;
  /** Bytes held above which {@link LineOutput.write} returns false. Default 16 KiB, a stream's default. */
  readonly highWaterMark?: number;
  /** Default fs.writeSync; a spec passes its own. */
  readonly writeSync?: (fd: number, text: string) => number;
}

/**
 * The stdio host's output: whole lines to a stream nobody else writes to, built so that a
 * process killed at any moment leaves the reader whole lines only.
 *
 * Why a line can tear: on a pipe or socket Node writes asynchronously. A write(2) the kernel
 * can only partly take leaves the rest queued in libuv, and process.exit() drops that queue, so
 * the reader is left with the first part of a line. Two rules keep the kernel from ever
 * holding part of a line:
 *
 * - Writes go out one at a time, each at most `pieceBytes` (PIPE_BUF) and cut after a newline.
 *   A non-blocking write of at most PIPE_BUF bytes to a pipe is atomic (POSIX): all of it or
 *   EAGAIN, never part; a Unix stream socket (what Node's spawn() gives a child) takes a write
 *   this small as one buffer, all or nothing, too. One at a time, because Node hands the writes
 *   queued behind a pending one to the kernel together (writev), and that sum is not atomic.
 * - A line longer than a piece has to go in several writes. When the process must stop with
 *   such a line half written, {@link abandon} writes the rest of it synchronously, for as long
 *   as its deadline allows, and everything after it is dropped.
 *
 * Lines are expected in ASCII (the protocol's output is: json.dumps escapes the rest), so that
 * characters count bytes when cutting pieces; other text is written correctly, only in pieces
 * that may exceed PIPE_BUF.
 */
export class LineOutput {
  readonly #stream: Writable;
  readonly #fd: number;
  readonly #onDrain: () => void;
  readonly #pieceBytes: number;
  readonly #highWaterMark: number;
  readonly #writeSync: (fd: number, text: string) => number;
  /** Text not yet taken by the kernel, from the piece in flight (or the next one) on. */
  #held = "";
  /** Where in #held the next piece starts; the piece in flight, if any, ends here. */
  #next = 0;
  /** Pieces handed to the stream so far; the number of the one in flight, or 0. */
  #pieces = 0;
  #inFlight = 0;
  /** Write callbacks called so far: the stream calls them in order, so the nth is piece n's. */
  #callbacks = 0;
  /** Where in #held the piece in flight starts. */
  #inFlightStart = 0;
  /** Whether the last text taken by the kernel ended inside a line. */
  #midLine = false;
  #needDrain = false;
  #stopped = false;

  constructor(stream: Writable, options: LineOutputOptions) {
    this.#stream = stream;
    this.#fd = options.fd;
    this.#onDrain = options.onDrain;
    this.#pieceBytes = options.pieceBytes ?? PIPE_BUF;
    this.#highWaterMark = options.highWaterMark ?? 16 * 1024;
    this.#writeSync = options.writeSync ?? writeSync;
  }

  /** Characters held: not yet taken by the kernel. */
  get held(): number {
    return this.#held.length - (this.#inFlight !== 0 ? this.#inFlightStart : this.#next);
  }

  /**
   * Queues `lines` (whole lines, each with its newline) and writes what it can. Returns false
   * when more than `highWaterMark` is held: the caller waits for `onDrain`.
   */
  write(lines: string): boolean {
    if (this.#stopped) return true;
    this.#held += lines;
    if (this.#inFlight === 0) this.#pump();
    if (this.held <= this.#highWaterMark) return true;
    this.#needDrain = true;
    return false;
  }

  /** Drops what is held and writes nothing more (the reader has gone). */
  stop(): void {
    this.#stopped = true;
    this.#held = "";
    this.#next = 0;
    this.#inFlight = 0;
  }

  /**
   * For a process about to exit at once: drops every line not begun, and writes the rest of a
   * line the kernel holds part of, synchronously, retrying while the reader is full until
   * `deadline` (a Date.now() time). Returns whether the output now ends after a whole line.
   */
  abandon(deadline: number): boolean {
    const from = this.#inFlight !== 0 ? this.#inFlightStart : this.#next;
    const rest = this.#midLine ? this.#held.slice(from, this.#held.indexOf("\n", from) + 1) : "";
    this.stop();
    let written = 0;
    while (written < rest.length) {
      try {
        written += this.#writeSync(this.#fd, rest.slice(written));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || Date.now() >= deadline) return false;
        Atomics.wait(PAUSE, 0, 0, 1); // a 1 ms pause: the reader is full
      }
    }
    return true;
  }

  /** Hands pieces to the stream while each is taken at once; else waits for its callback. */
  #pump(): void {
    const stream = this.#stream;
    while (this.#next < this.#held.length) {
      const start = this.#next;
      const end = this.#pieceEnd(start);
      const piece = ++this.#pieces;
      this.#next = end;
      this.#inFlight = piece;
      this.#inFlightStart = start;
      stream.write(this.#held.slice(start, end), this.#taken);
      if (this.#stopped) return;
      // Taken by the kernel during write() when writableLength is back to 0 (Node counts it
      // down synchronously then); otherwise the piece waits in libuv, whole, for its callback.
      if (stream.writableLength > 0) return;
      this.#accept(end);
    }
    this.#held = "";
    this.#next = 0;
    if (this.#needDrain) {
      this.#needDrain = false;
      this.#onDrain();
    }
  }

  /** A piece's write callback: the piece in flight was taken, unless {@link #pump} saw that first. */
  readonly #taken = (error: Error | null | undefined): void => {
    if (++this.#callbacks !== this.#inFlight || this.#stopped) return;
    if (error) return this.stop(); // the stream reports the error to its own listeners
    this.#accept(this.#next);
    this.#pump();
  };

  /** The piece in flight, ending at `end`, was taken; text before it is let go. */
  #accept(end: number): void {
    this.#inFlight = 0;
    this.#midLine = this.#held.charCodeAt(end - 1) !== NEWLINE;
    if (end >= COMPACT_AT) {
      this.#held = this.#held.slice(end);
      this.#next = 0;
    }
  }

  /** Where the piece from `start` ends: after the last newline that fits, or mid-line for a long one. */
  #pieceEnd(start: number): number {
    const held = this.#held;
    const limit = start + this.#pieceBytes;
    if (limit >= held.length) return held.length;
    const newline = held.lastIndexOf("\n", limit - 1);
    return newline >= start ? newline + 1 : limit;
  }
}

/**
 * The `pieceBytes` for the output on `fd`: Infinity for a regular file, PIPE_BUF (4096)
 * otherwise. Node writes to a file synchronously (fs.writeSync) and the kernel takes a write to
 * a file whole, so a write is done before the process can exit, and no line is ever left half
 * written there: cutting the output into pieces would cost a system call per 4 KiB for nothing.
 * A pipe, a socket or anything else keeps the pieces.
 */
export function pieceBytesFor(fd: number): number {
  try {
    return fstatSync(fd).isFile() ? Number.POSITIVE_INFINITY : PIPE_BUF;
  } catch {
    return PIPE_BUF;
  }
}

/** Linux's PIPE_BUF: a pipe takes a write of at most this many bytes whole or not at all. */
const PIPE_BUF = 4096;
const NEWLINE = 0x0a;
/** Taken text kept in #held before it is cut off. */
const COMPACT_AT = 64 * 1024;
/** Atomics.wait needs a shared Int32Array to sleep on; nothing ever notifies it. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));
