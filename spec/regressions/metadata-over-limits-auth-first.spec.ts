import { expect } from "chai";
import { runNode } from "../support/node-process.js";
import { call, init, parseReply, stats } from "../support/messages.js";

// A call with more metadata than allowed and no valid token was answered RESOURCE_EXHAUSTED at
// the door and not counted as an auth failure, so the stats under-counted unauthenticated
// callers. Auth comes first (the stats count every call auth stops): such a call is
// UNAUTHENTICATED at auth; only an authenticated one is refused for its metadata.

const many = (extra: Record<string, string>): Record<string, string> => ({ a: "1", b: "2", c: "3", ...extra });

describe("regression: a call over the metadata limits without a token was RESOURCE_EXHAUSTED, not an auth failure", () => {
  it("bin/node answers it UNAUTHENTICATED at auth and counts it; with a valid token, RESOURCE_EXHAUSTED at the door", async () => {
    const run = await runNode(
      [
        init(),
        call({ msgId: 2, metadata: many({}) }),
        call({ msgId: 3, metadata: many({ authorization: "Bearer wrong" }) }),
        call({ msgId: 4, metadata: many({ authorization: "Bearer valid_token" }) }),
        stats(5),
      ],
      { env: { MAX_METADATA_ENTRIES: "2", LOG_LEVEL: "warn" } },
    );
    const bodies = run.lines.map((line) => parseReply(line).body);
    expect(bodies.slice(1, 4).map(({ status, interceptor_failed, interceptors_applied }) => ({ status, interceptor_failed, interceptors_applied }))).to.deep.equal([
      { status: "UNAUTHENTICATED", interceptor_failed: "auth", interceptors_applied: undefined },
      { status: "UNAUTHENTICATED", interceptor_failed: "auth", interceptors_applied: undefined },
      { status: "RESOURCE_EXHAUSTED", interceptor_failed: undefined, interceptors_applied: [] },
    ]);
    expect(bodies[4]!["stats"]).to.deep.equal({ total_requests: 3, auth_failures: 2, rate_limited: 0 });
    expect(run.lines[1]).to.equal('{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 2, "status": "UNAUTHENTICATED", "interceptor_failed": "auth", "msg_id": 1}}');
  });
});
