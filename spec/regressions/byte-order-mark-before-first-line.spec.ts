import { expect } from "chai";
import { runNode } from "../support/node-process.js";
import { call, init } from "../support/messages.js";

// A UTF-8 byte order mark before the first line (EF BB BF, as some editors and Windows tools
// write a file) made that line not JSON, so `init` was lost: the node answered from the
// incoming dest and never learnt its id.

describe("regression: a UTF-8 byte order mark before the first line lost init", () => {
  it("bin/node drops the mark and answers init from the id it names", async () => {
    const run = await runNode([`\uFEFF${init(1, "n7")}`, call({ msgId: 2 })]);
    expect(run.lines[0]).to.equal('{"src": "n7", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}');
    expect(run.lines).to.have.length(2);
    expect(run.lines[1]).to.match(/^\{"src": "n7", "dest": "c1"/);
  });

  it("a mark on a later line is content, not a mark: that line is skipped as not JSON", async () => {
    const run = await runNode([init(), `\uFEFF${call({ msgId: 2 })}`, call({ msgId: 3 })], { env: { LOG_LEVEL: "warn" } });
    expect(run.lines).to.have.length(2);
    expect(run.logRecords.find((r) => r["msg"] === "input line is not JSON; skipped")).to.deep.include({ line: 2 });
  });
});
