import { expect } from "chai";
import { Stats } from "../../../lib/hosts/stdio/stats.js";

describe("Stats.record()", () => {
  it("counts every call, and the calls each interceptor ended", () => {
    const stats = new Stats();
    for (const failed of [undefined, "auth", "rate_limit", "auth", undefined, "custom"]) stats.record(failed);
    expect(stats.total).to.equal(6);
    expect(stats.failuresAt("auth")).to.equal(2);
    expect(stats.failuresAt("custom")).to.equal(1);
    expect(stats.failuresAt("logging")).to.equal(0);
    expect(stats.toWire()).to.deep.equal({ total_requests: 6, auth_failures: 2, rate_limited: 1 });
  });

  it("keeps the wire keys in the order docs/protocol.md gives", () => {
    expect(Object.keys(new Stats().toWire())).to.deep.equal(["total_requests", "auth_failures", "rate_limited"]);
  });
});
