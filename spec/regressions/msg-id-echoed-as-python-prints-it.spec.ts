import { expect } from "chai";
import { runNode } from "../support/node-process.js";
import { MSG_ID_TOKENS, pythonPrints, randomNumberTokens, requirePython } from "../support/python-numbers.js";

// The output bytes are Python's json.dumps of the reply, so in_reply_to is the msg_id as Python
// prints the value it read: `1.0` stays `1.0`, `1e16` is `1e+16`, `9007199254740993` exact.
// bin/node echoed the double JavaScript read (1, 10000000000000000, 9007199254740992).

/** The in_reply_to text of a reply line, as printed. */
const inReplyToText = (line: string): string | undefined => /"in_reply_to": ([^,]*),/.exec(line)?.[1];

describe("regression: a numeric msg_id was not echoed as Python prints it (1.0 came back as 1)", function () {
  this.timeout(20_000);

  it("bin/node echoes every msg_id form byte for byte as python3's json.dumps(json.loads(msg_id))", async function () {
    requirePython(this);
    const tokens = [...MSG_ID_TOKENS, ...randomNumberTokens(16, 500)];
    const python = pythonPrints(tokens);
    const run = await runNode(tokens.map((token) => `{"src":"c1","dest":"n1","body":{"type":"grpc_interceptor_stats","msg_id":${token}}}`));
    expect(run.code).to.equal(0);
    expect(run.lines).to.have.length(tokens.length);
    const mismatches = tokens
      .map((token, i) => ({ token, python: python[i], printed: inReplyToText(run.lines[i]!) }))
      .filter(({ python, printed }) => python !== printed);
    expect(mismatches.slice(0, 5), `${mismatches.length} of ${tokens.length} differ`).to.deep.equal([]);
  });

  it("bin/node echoes a grpc_call's msg_id 1.0 as 1.0, with the call's other msg_id keys left alone", async () => {
    const line = '{"src":"c1","dest":"n1","body":{"type":"grpc_call","msg_id":1.0,"service":"KeyValue","method":"Get","request":{"key":"k","msg_id":1},"metadata":{"authorization":"Bearer valid_token"}}}';
    const run = await runNode([line]);
    expect(run.lines).to.deep.equal(['{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 1.0, "status": "NOT_FOUND", "interceptors_applied": ["logging", "auth", "rate_limit"], "response": {"key": "k", "found": false}, "msg_id": 0}}']);
  });
});
