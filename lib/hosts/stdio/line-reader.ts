/** Options of {@link LineReader}. */
export interface LineReaderOptions {
  /** Longest line kept, in bytes without the newline; longer ones are dropped unread. */
  readonly maxLineBytes: number;
  /** Each complete line, decoded as UTF-8 (invalid bytes become U+FFFD), with its 1-based number. */
  readonly onLine: (line: string, lineNo: number) => void;
  /** A line over the limit, once it has ended: its number and length in bytes. */
  readonly onOversize: (lineNo: number, bytes: number) => void;
}

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into newline-terminated lines however it is chunked. A line longer than
 * `maxLineBytes` is never held whole: once over the limit its bytes are counted and dropped
 * until the next newline. A last line without a newline is delivered by {@link end}.
 */
export class LineReader {
  readonly #options: LineReaderOptions;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes of the current line dropped so far, or -1 when not dropping. */
  #dropped = -1;
  #lineNo = 0;

  constructor(options: LineReaderOptions) {
    if (!Number.isInteger(options.maxLineBytes) || options.maxLineBytes < 1) throw new RangeError("LineReader: maxLineBytes must be an integer >= 1");
    this.#options = options;
  }

  /** How many lines have ended so far. */
  get lines(): number {
    return this.#lineNo;
  }

  /** Feeds the next chunk. */
  push(chunk: Buffer): void {
    const first = chunk.indexOf(NEWLINE);
    if (first === -1) {
      this.#hold(chunk);
      return;
    }
    // The first line may continue bytes held from earlier chunks.
    this.#finish(chunk, 0, first);
    let start = first + 1;
    const last = chunk.lastIndexOf(NEWLINE);
    if (last > first) {
      // The lines wholly inside this chunk: decoded at once and cut as text, one native call
      // per chunk instead of one per line. The same text as decoding each line: a
      // newline byte never sits inside a UTF-8 sequence and ends any broken one.
      this.#lines(chunk, start, last);
      start = last + 1;
    }
    if (start < chunk.length) this.#hold(chunk.subarray(start));
  }

  /** The input has ended: delivers a last line that had no newline. */
  end(): void {
    if (this.#pendingBytes > 0 || this.#dropped >= 0) this.#finish(Buffer.alloc(0), 0, 0);
  }

  /** Delivers each line of `chunk` from `start` to `end` (a newline), none held before them. */
  #lines(chunk: Buffer, start: number, end: number): void {
    const max = this.#options.maxLineBytes;
    const text = chunk.toString("utf8", start, end);
    // Where the line numbered `counted` in this stretch starts in the bytes; found only for a
    // line long enough to need its byte count, and moved forward only.
    let counted = 0;
    let countedAt = start;
    for (let from = 0, index = 0; ; index++) {
      const nl = text.indexOf("\n", from);
      const line = nl === -1 ? text.slice(from) : text.slice(from, nl);
      const lineNo = ++this.#lineNo;
      // A line decodes to at most as many UTF-16 units as it has bytes, and has at most 3 bytes
      // per unit (a broken sequence of up to 3 becomes one U+FFFD): most lines need no count.
      if (line.length * 3 <= max) this.#options.onLine(line, lineNo);
      else {
        for (; counted < index; counted++) countedAt = chunk.indexOf(NEWLINE, countedAt) + 1;
        const bytes = chunk.indexOf(NEWLINE, countedAt) - countedAt;
        if (bytes > max) this.#options.onOversize(lineNo, bytes);
        else this.#options.onLine(line, lineNo);
      }
      if (nl === -1) return;
      from = nl + 1;
    }
  }

  #hold(part: Buffer): void {
    if (this.#dropped >= 0) {
      this.#dropped += part.length;
    } else if (this.#pendingBytes + part.length > this.#options.maxLineBytes) {
      this.#dropped = this.#pendingBytes + part.length;
      this.#pending = [];
      this.#pendingBytes = 0;
    } else {
      this.#pending.push(part);
      this.#pendingBytes += part.length;
    }
  }

  #finish(chunk: Buffer, start: number, end: number): void {
    const lineNo = ++this.#lineNo;
    const bytes = end - start;
    if (this.#dropped >= 0) {
      const total = this.#dropped + bytes;
      this.#dropped = -1;
      this.#options.onOversize(lineNo, total);
    } else if (this.#pendingBytes + bytes > this.#options.maxLineBytes) {
      const total = this.#pendingBytes + bytes;
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#options.onOversize(lineNo, total);
    } else if (this.#pendingBytes === 0) {
      this.#options.onLine(chunk.toString("utf8", start, end), lineNo);
    } else {
      this.#pending.push(chunk.subarray(start, end));
      const line = Buffer.concat(this.#pending, this.#pendingBytes + bytes).toString("utf8");
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#options.onLine(line, lineNo);
    }
  }
}
