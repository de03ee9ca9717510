import { expect } from "chai";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { LineOutput, pieceBytesFor } from "../../../lib/hosts/stdio/line-output.js";

/**
 * A stream that takes each write at once, or, while `full` is set or once `roomFor` writes have
 * been taken, holds it until `take()`.
 */
function stream() {
  const writes: string[] = [];
  const held: (() => void)[] = [];
  const state = { full: false, roomFor: Number.POSITIVE_INFINITY };
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writes.push(chunk.toString());
      if (state.full || state.roomFor-- <= 0) held.push(callback);
      else callback();
    },
  });
  const take = (): void => held.shift()?.();
  return { output, writes, state, take };
}

/** A writeSync that records what it writes, refusing `refusals` times with EAGAIN first. */
function syncWriter(refusals = 0) {
  const written: string[] = [];
  let left = refusals;
  const writeSync = (_fd: number, text: string): number => {
    if (left-- > 0) throw Object.assign(new Error("EAGAIN"), { code: "EAGAIN" });
    written.push(text);
    return text.length;
  };
  return { written, writeSync };
}

const line = (n: number, length: number): string => `${String(n).padEnd(length - 1, "x")}\n`;

describe("LineOutput.write()", () => {
  it("writes at most pieceBytes at a time, cut after a newline, and a longer line in pieces", () => {
    const { output, writes } = stream();
    const out = new LineOutput(output, { fd: 1, pieceBytes: 10, onDrain: () => {} });
    out.write(line(1, 4) + line(2, 4) + line(3, 4) + line(4, 25) + line(5, 3));
    expect(writes).to.deep.equal([line(1, 4) + line(2, 4), line(3, 4), line(4, 25).slice(0, 10), line(4, 25).slice(10, 20), line(4, 25).slice(20) + line(5, 3)]);
    expect(out.held).to.equal(0);
  });

  it("with pieceBytes Infinity hands over each batch whole, however long", () => {
    const { output, writes } = stream();
    const out = new LineOutput(output, { fd: 1, pieceBytes: Number.POSITIVE_INFINITY, onDrain: () => {} });
    const batch = line(1, 5000) + line(2, 3000) + line(3, 9000);
    out.write(batch);
    out.write(line(4, 10));
    expect(writes).to.deep.equal([batch, line(4, 10)]);
    expect(out.held).to.equal(0);
  });

  it("hands the stream one piece at a time: the next only once the last was taken", () => {
    const { output, writes, state, take } = stream();
    const out = new LineOutput(output, { fd: 1, pieceBytes: 8, onDrain: () => {} });
    state.full = true;
    out.write(line(1, 8) + line(2, 8));
    out.write(line(3, 8));
    expect(writes).to.deep.equal([line(1, 8)]);
    expect(out.held).to.equal(24);
    state.full = false;
    take();
    expect(writes).to.deep.equal([line(1, 8), line(2, 8), line(3, 8)]);
    expect(out.held).to.equal(0);
  });

  it("returns false above highWaterMark and calls onDrain once all it held is taken", () => {
    const { output, state, take } = stream();
    let drains = 0;
    const out = new LineOutput(output, { fd: 1, pieceBytes: 8, highWaterMark: 16, onDrain: () => drains++ });
    state.full = true;
    expect(out.write(line(1, 8) + line(2, 8))).to.equal(true);
    expect(out.write(line(3, 8))).to.equal(false);
    take();
    take();
    expect(drains).to.equal(0);
    take();
    expect(drains).to.equal(1);
    expect(out.held).to.equal(0);
  });

  it("after stop() drops what it holds and takes nothing more", () => {
    const { output, writes, state } = stream();
    const out = new LineOutput(output, { fd: 1, pieceBytes: 8, onDrain: () => {} });
    state.full = true;
    out.write(line(1, 8) + line(2, 8));
    out.stop();
    expect(out.write(line(3, 8))).to.equal(true);
    expect(writes).to.deep.equal([line(1, 8)]);
  });
});

describe("LineOutput.abandon(deadline)", () => {
  it("writes nothing when the kernel holds whole lines only, dropping the lines not begun", () => {
    const { output, state } = stream();
    const sync = syncWriter();
    const out = new LineOutput(output, { fd: 1, pieceBytes: 8, onDrain: () => {}, writeSync: sync.writeSync });
    state.full = true;
    out.write(line(1, 8) + line(2, 8));
    expect(out.abandon(Date.now() + 100)).to.equal(true);
    expect(sync.written).to.deep.equal([]);
    expect(out.held).to.equal(0);
  });

  it("writes the rest of a line the kernel holds part of, and nothing after it", () => {
    const { output, writes, state } = stream();
    const sync = syncWriter(2);
    const out = new LineOutput(output, { fd: 7, pieceBytes: 8, onDrain: () => {}, writeSync: sync.writeSync });
    const long = line(1, 20);
    state.roomFor = 2;
    out.write(long + line(2, 8));
    expect(writes).to.deep.equal([long.slice(0, 8), long.slice(8, 16), long.slice(16)], "two pieces taken, the third waiting");
    expect(out.abandon(Date.now() + 1000), "after two EAGAINs").to.equal(true);
    expect(sync.written).to.deep.equal([long.slice(16)]);
  });

  it("gives up at the deadline while the reader takes nothing", () => {
    const { output, state } = stream();
    const sync = syncWriter(Number.POSITIVE_INFINITY);
    const out = new LineOutput(output, { fd: 1, pieceBytes: 8, onDrain: () => {}, writeSync: sync.writeSync });
    out.write(line(1, 12).slice(0, 8)); // a piece ending mid-line, taken
    state.full = true;
    out.write(line(1, 12).slice(8));
    const start = Date.now();
    expect(out.abandon(start + 30)).to.equal(false);
    expect(Date.now() - start).to.be.within(25, 500);
  });
});

describe("pieceBytesFor(fd)", () => {
  it("is Infinity for a regular file, whose writes are synchronous and whole", () => {
    const dir = mkdtempSync(join(tmpdir(), "line-output-"));
    const fd = openSync(join(dir, "out"), "w");
    try {
      expect(pieceBytesFor(fd)).to.equal(Number.POSITIVE_INFINITY);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });

  it("is PIPE_BUF (4096) for anything else: a device, a closed descriptor", () => {
    const fd = openSync("/dev/null", "w");
    try {
      expect(pieceBytesFor(fd)).to.equal(4096);
    } finally {
      closeSync(fd);
    }
    expect(pieceBytesFor(fd)).to.equal(4096);
  });
});
