import { expect } from "chai";
import { NodeProcess } from "../support/node-process.js";
import { AUTHORIZED, call, init, parseReply } from "../support/messages.js";

// Memory bounds of the real bin/node. A line far over MAX_LINE_BYTES is dropped as
// it streams in, never held; the million-distinct-clients flood is bench/memory-distinct-clients.ts
// (slow), with spec/limiters/token-bucket.memory.spec.ts as its fast counterpart.

const MIB = 2 ** 20;

/** A grpc_call Put line whose value is `mib` MiB of "a", as chunks: never one string in this process. */
function* hugePut(msgId: number, mib: number): Generator<string | Buffer> {
  const head = JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_call", msg_id: msgId, service: "KeyValue", method: "Put", request: { key: "big", value: "" } } });
  yield head.slice(0, head.length - 4); // up to the opening quote of the value
  const chunk = Buffer.alloc(MIB, 0x61);
  for (let i = 0; i < mib; i++) yield chunk;
  yield `"}, "metadata": ${JSON.stringify(AUTHORIZED)}}}\n`;
}

describe("bin/node memory (end to end)", function () {
  this.timeout(60_000);

  it("drops a 100 MiB line with one log line, peaks under 200 MiB of RSS, and answers the next call", async () => {
    const node = NodeProcess.start({ env: { LOG_LEVEL: "warn" } });
    try {
      node.writeLines([init()]);
      await node.waitForLines(1);
      let bytes = 0;
      await node.writePaced(hugePut(2, 100), (chunk) => (bytes += Buffer.byteLength(chunk)));
      node.writeLines([call({ msgId: 3, request: { key: "big" } })]);
      const [, reply] = await node.waitForLines(2, 20_000);
      const { rssMiB, peakMiB } = node.memory();
      process.stdout.write(`      (a ${(bytes / MIB).toFixed(1)} MiB line: RSS ${rssMiB.toFixed(0)} MiB after it, ${peakMiB.toFixed(0)} MiB at the peak)\n`);
      expect(parseReply(reply ?? "").body).to.deep.include({ in_reply_to: 3, status: "NOT_FOUND", response: { key: "big", found: false } });
      expect(peakMiB, "peak RSS, MiB").to.be.below(200);
      node.end();
      expect((await node.exited(10_000)).code).to.equal(0);
      const dropped = node.logRecords.filter((r) => r["msg"] === "input line over the size limit; dropped");
      expect(dropped).to.have.length(1);
      expect(dropped[0]).to.deep.include({ line: 2, bytes: bytes - 1, limit: 4 * MIB });
      expect(node.logRecords, "nothing else logged at warn or above").to.have.length(1);
    } finally {
      if (!node.closed) node.kill("SIGKILL");
    }
  });
});
