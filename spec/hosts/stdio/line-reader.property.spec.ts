import { expect } from "chai";
import fc from "fast-check";
import { type Event, feed } from "../../support/line-reader-feed.js";

/** The specification, written the obvious way on the whole input: split at 0x0a, decode each part. */
function expected(input: Buffer, maxLineBytes: number): Event[] {
  const events: Event[] = [];
  let start = 0;
  let lineNo = 0;
  while (start <= input.length) {
    const nl = input.indexOf(0x0a, start);
    const end = nl === -1 ? input.length : nl;
    if (nl === -1 && end === start) break; // nothing after the last newline
    lineNo++;
    if (end - start > maxLineBytes) events.push(["oversize", lineNo, end - start]);
    else events.push(["line", lineNo, input.toString("utf8", start, end)]);
    start = end + 1;
  }
  return events;
}

/** Bytes rich in newlines and in the pieces of multi-byte and invalid UTF-8 sequences. */
const byte = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 2, arbitrary: fc.constant(0x0a) },
  { weight: 2, arbitrary: fc.constantFrom(0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0xff, 0x00, 0x0d) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const text = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.array(byte, { maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.array(fc.string({ unit: "binary", maxLength: 20 }), { maxLength: 12 }).map((lines) => Buffer.from(lines.join("\n"), "utf8")),
);

/** An input with sorted cut points in it (duplicates allowed: empty chunks are fed too). */
const chunked = text.chain((input) =>
  fc.tuple(fc.constant(input), fc.array(fc.integer({ min: 0, max: input.length }), { maxLength: 40 }).map((cuts) => cuts.sort((a, b) => a - b))),
);

describe("LineReader.push() (properties)", () => {
  it("yields the same lines and oversize reports however the input is chunked", () => {
    fc.assert(
      fc.property(chunked, fc.integer({ min: 1, max: 64 }), ([input, cuts], maxLineBytes) => {
        expect(feed(maxLineBytes, input, cuts)).to.deep.equal(feed(maxLineBytes, input, []));
      }),
      { numRuns: 3000 },
    );
  });

  it("yields what splitting the whole input at each newline gives: each line decoded whole, longer ones reported with their byte count", () => {
    fc.assert(
      fc.property(chunked, fc.integer({ min: 1, max: 400 }), ([input, cuts], maxLineBytes) => {
        expect(feed(maxLineBytes, input, cuts)).to.deep.equal(expected(input, maxLineBytes));
      }),
      { numRuns: 3000 },
    );
  });

  it("yields the same fed one byte at a time", () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 64 }), (input, maxLineBytes) => {
        const everyByte = Array.from({ length: input.length }, (_, i) => i);
        expect(feed(maxLineBytes, input, everyByte)).to.deep.equal(expected(input, maxLineBytes));
      }),
      { numRuns: 500 },
    );
  });
});
