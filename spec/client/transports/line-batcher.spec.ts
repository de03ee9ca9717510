import { expect } from "chai";
import { Writable } from "node:stream";
import { LineBatcher } from "../../../lib/client/transports/line-batcher.js";
import { turn } from "../../support/fake-clock.js";

/** A Writable that keeps each write() and only drains when told. */
function slowStream(highWaterMark: number) {
  const writes: string[] = [];
  let release: (() => void) | undefined;
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      writes.push(chunk.toString());
      release = callback;
    },
  });
  return { stream, writes, drain: () => release?.() };
}

describe("new LineBatcher(output)", () => {
  it("sends the lines of one turn in one write()", async () => {
    const { stream, writes, drain } = slowStream(1 << 20);
    const batcher = new LineBatcher(stream);
    batcher.write("a\n");
    batcher.write("b\n");
    await turn();
    batcher.write("c\n");
    drain();
    await turn();
    expect(writes).to.deep.equal(["a\nb\n", "c\n"]);
  });

  it("holds lines while the stream wants to drain, then sends them together", async () => {
    const { stream, writes, drain } = slowStream(1);
    const batcher = new LineBatcher(stream);
    batcher.write("first\n");
    await turn();
    batcher.write("second\n");
    batcher.write("third\n");
    await turn();
    expect(writes).to.deep.equal(["first\n"]);
    expect(stream.writableLength, "held here, not piled into the stream").to.equal("first\n".length);
    drain();
    await turn();
    await turn();
    expect(writes).to.deep.equal(["first\n", "second\nthird\n"]);
  });

  it("end() writes what is held even while waiting, then ends the stream", async () => {
    const { stream, writes, drain } = slowStream(1);
    const batcher = new LineBatcher(stream);
    batcher.write("first\n");
    await turn();
    batcher.write("last\n");
    batcher.end();
    batcher.write("too late\n");
    drain();
    await turn();
    drain();
    await turn();
    expect(writes).to.deep.equal(["first\n", "last\n"]);
    expect(stream.writableEnded).to.equal(true);
  });
});
