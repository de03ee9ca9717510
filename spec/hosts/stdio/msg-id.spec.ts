import { expect } from "chai";
import { replyIdOf, pythonNumberText } from "../../../lib/hosts/stdio/msg-id.js";
import { dumps, RawJson } from "../../../lib/hosts/stdio/python-json.js";
import { MSG_ID_TOKENS, pythonPrints, randomNumberTokens, requirePython } from "../../support/python-numbers.js";

/** The in_reply_to text bin/node prints for a line. */
function echo(line: string): string | undefined {
  const msgId = (JSON.parse(line) as { body: Record<string, unknown> }).body["msg_id"];
  const id = replyIdOf(msgId, line);
  return id === undefined ? undefined : dumps(id);
}

const withMsgId = (token: string, extra = ""): string => `{"src": "c1", "dest": "n1", "body": {"type": "x", "msg_id": ${token}${extra}}}`;

describe("replyIdOf(msgId, line)", () => {
  it("returns a usual integer msg_id as the number itself (no scan, no RawJson)", () => {
    expect(replyIdOf(7, withMsgId("7"))).to.equal(7);
    expect(replyIdOf(7, '{"src":"c1","body":{"msg_id":7,"request":{"msg_id":7}}}')).to.equal(7);
  });

  it("echoes the token of the body's msg_id, whatever other msg_id keys the line holds", () => {
    expect(echo('{"src":"c1","body":{"request":{"msg_id":1},"msg_id":1.0}}')).to.equal("1.0");
    expect(echo('{"src":"c1","msg_id":5,"body":{"msg_id":1.0}}')).to.equal("1.0");
    expect(echo('{"src":"c1","body":{"msg_id":1.0,"msg_id":2}}'), "the last duplicate wins, as in JSON.parse").to.equal("2");
    expect(echo('{"src":"c1","body":{"msg_id":1},"body":{"msg_id":1e0}}')).to.equal("1.0");
    expect(echo('{"src":"c1","body":{"note":"\\"msg_id\\": 1","msg_\\u0069d":1.0}}'), "a key spelled with escapes").to.equal("1.0");
    expect(echo('{ "src" : "c1" , "body" : { "a" : [1, {"msg_id": 2}], "msg_id" : 1E5 } }')).to.equal("100000.0");
  });

  it("echoes a string as is and answers no msg_id that no reply can carry", () => {
    expect(replyIdOf("m-1", withMsgId('"m-1"'))).to.equal("m-1");
    for (const value of [null, true, {}, [], Number.POSITIVE_INFINITY]) expect(replyIdOf(value, undefined)).to.equal(undefined);
  });

  it("without the line, echoes a number as JavaScript holds it", () => {
    expect(replyIdOf(1, undefined)).to.equal(1);
  });
});

describe("pythonNumberText(token)", () => {
  it("prints the issue's tokens as Python does", () => {
    expect(["1.0", "-0.0", "1e16", "1e21", "9007199254740993", "1.7976931348623157e308", "-0"].map(pythonNumberText)).to.deep.equal([
      "1.0", "-0.0", "1e+16", "1e+21", "9007199254740993", "1.7976931348623157e+308", "0",
    ]);
  });

  it("prints every listed and 3,000 random tokens byte for byte as python3's json.dumps(json.loads(token))", function () {
    requirePython(this);
    const tokens = [...MSG_ID_TOKENS, ...randomNumberTokens(2026, 3000)];
    const python = pythonPrints(tokens);
    const mismatches = tokens.map((token, i) => [token, python[i], pythonNumberText(token)]).filter(([, want, got]) => want !== got);
    expect(mismatches.slice(0, 5), `${mismatches.length} mismatches`).to.deep.equal([]);
  });
});

describe("RawJson", () => {
  it("is printed verbatim by dumps()", () => {
    expect(dumps({ in_reply_to: new RawJson("1.0"), msg_id: 0 })).to.equal('{"in_reply_to": 1.0, "msg_id": 0}');
  });
});
