import { expect } from "chai";
import { LineReader } from "../../../lib/hosts/stdio/line-reader.js";
import { type Event, feed, recorder } from "../../support/line-reader-feed.js";

// Multi-byte characters (2, 3 and 4 bytes in UTF-8) so that cuts fall inside them too.
const TEXT = '{"a":"caf\u00e9"}\n\n\u65e5\u672c\n\u{1f600} x\nlast';
const INPUT = Buffer.from(TEXT, "utf8");
const EXPECTED: Event[] = [
  ["line", 1, '{"a":"caf\u00e9"}'],
  ["line", 2, ""],
  ["line", 3, "\u65e5\u672c"],
  ["line", 4, "\u{1f600} x"],
  ["line", 5, "last"],
];

describe("LineReader.push()", () => {
  it("yields the same lines for the input whole", () => {
    expect(feed(1024, INPUT, [])).to.deep.equal(EXPECTED);
  });

  it("yields the same lines however the input is cut in two, at every byte boundary", () => {
    for (let cut = 0; cut <= INPUT.length; cut++) {
      expect(feed(1024, INPUT, [cut]), `cut at ${cut}`).to.deep.equal(EXPECTED);
    }
  });

  it("yields the same lines however the input is cut in three", () => {
    for (let a = 0; a <= INPUT.length; a++) {
      for (let b = a; b <= INPUT.length; b++) {
        expect(feed(1024, INPUT, [a, b]), `cut at ${a} and ${b}`).to.deep.equal(EXPECTED);
      }
    }
  });

  it("yields the same lines fed one byte at a time", () => {
    const cuts = Array.from({ length: INPUT.length }, (_, i) => i);
    expect(feed(1024, INPUT, cuts)).to.deep.equal(EXPECTED);
  });

  it("turns invalid UTF-8 into U+FFFD and goes on", () => {
    const input = Buffer.concat([Buffer.from("a"), Buffer.from([0xff, 0xc3]), Buffer.from("b\n"), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from("\nok\n")]);
    const events = feed(1024, input, []);
    expect(events).to.have.length(3);
    expect(events[0]?.[2]).to.match(/^a\ufffd+b$/);
    expect(events[1]?.[2]).to.match(/^\ufffd+$/);
    expect(events[2]).to.deep.equal(["line", 3, "ok"]);
  });

  it("decodes a multi-byte character cut by the end of a line's first chunk (no U+FFFD)", () => {
    const input = Buffer.from("\u00e9\n", "utf8");
    expect(feed(16, input, [1])).to.deep.equal([["line", 1, "\u00e9"]]);
  });

  it("keeps a \\r before the newline (JSON.parse ignores it)", () => {
    expect(feed(16, Buffer.from("{}\r\n"), [])).to.deep.equal([["line", 1, "{}\r"]]);
  });
});

describe("LineReader maxLineBytes", () => {
  const long = "x".repeat(25);
  const input = Buffer.from(`short\n${long}\nnext\n`);
  const expected: Event[] = [
    ["line", 1, "short"],
    ["oversize", 2, 25],
    ["line", 3, "next"],
  ];

  it("drops a line over the limit, reports its number and byte count, and delivers the next line", () => {
    expect(feed(10, input, [])).to.deep.equal(expected);
  });

  it("reports the same however the input is cut, the long line's bytes counted across chunks", () => {
    for (let cut = 0; cut <= input.length; cut++) {
      expect(feed(10, input, [cut]), `cut at ${cut}`).to.deep.equal(expected);
    }
    const cuts = Array.from({ length: input.length }, (_, i) => i);
    expect(feed(10, input, cuts), "one byte at a time").to.deep.equal(expected);
  });

  it("keeps a line of exactly maxLineBytes bytes, counting bytes not characters", () => {
    expect(feed(10, Buffer.from("0123456789\n"), [])).to.deep.equal([["line", 1, "0123456789"]]);
    const tenBytes = "\u00e9".repeat(5);
    expect(feed(10, Buffer.from(`${tenBytes}\n${tenBytes}\u00e9\n`), [3])).to.deep.equal([
      ["line", 1, tenBytes],
      ["oversize", 2, 12],
    ]);
  });

  it("counts a huge line fed in many chunks to the byte", () => {
    const { reader, events } = recorder(1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 64; i++) reader.push(chunk);
    reader.push(Buffer.from("\n{}\n"));
    expect(events).to.deep.equal([
      ["oversize", 1, 64 * 64 * 1024],
      ["line", 2, "{}"],
    ]);
  });

  it("rejects a limit that is not a positive integer", () => {
    const noop = (): void => {};
    expect(() => new LineReader({ maxLineBytes: 0, onLine: noop, onOversize: noop })).to.throw(RangeError, /maxLineBytes/);
    expect(() => new LineReader({ maxLineBytes: 1.5, onLine: noop, onOversize: noop })).to.throw(RangeError, /maxLineBytes/);
  });
});

describe("LineReader.end()", () => {
  it("delivers a last line without a newline", () => {
    const { reader, events } = recorder(64);
    reader.push(Buffer.from("one\ntw"));
    reader.push(Buffer.from("o"));
    expect(events).to.deep.equal([["line", 1, "one"]]);
    reader.end();
    expect(events).to.deep.equal([
      ["line", 1, "one"],
      ["line", 2, "two"],
    ]);
    expect(reader.lines).to.equal(2);
  });

  it("delivers nothing more when the input ended with a newline", () => {
    const { reader, events } = recorder(64);
    reader.push(Buffer.from("one\n"));
    reader.end();
    expect(events).to.deep.equal([["line", 1, "one"]]);
    expect(reader.lines).to.equal(1);
  });

  it("reports a last line over the limit", () => {
    const { reader, events } = recorder(4);
    reader.push(Buffer.from("ok\ntoo long"));
    reader.end();
    expect(events).to.deep.equal([
      ["line", 1, "ok"],
      ["oversize", 2, 8],
    ]);
  });
});
