import { LineReader } from "../../lib/hosts/stdio/line-reader.js";

/** What a LineReader reports, in order: a line with its number, or an oversized line's number and size. */
export type Event = readonly ["line", number, string] | readonly ["oversize", number, number];

/** A reader that records what it reports, in order. */
export function recorder(maxLineBytes: number): { reader: LineReader; events: Event[] } {
  const events: Event[] = [];
  const reader = new LineReader({
    maxLineBytes,
    onLine: (line, lineNo) => void events.push(["line", lineNo, line]),
    onOversize: (lineNo, bytes) => void events.push(["oversize", lineNo, bytes]),
  });
  return { reader, events };
}

/** Feeds `input` cut at the given (sorted) byte offsets, then ends it; returns what was reported. */
export function feed(maxLineBytes: number, input: Buffer, cuts: readonly number[]): Event[] {
  const { reader, events } = recorder(maxLineBytes);
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    reader.push(input.subarray(from, cut));
    from = cut;
  }
  reader.end();
  return events;
}
