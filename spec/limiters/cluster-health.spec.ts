import { expect } from "chai";
import { EventEmitter } from "node:events";
import type { Cluster } from "ioredis";
import { ClusterHealth } from "../../lib/limiters/cluster-health.js";

/** Enough of an ioredis Cluster: its events, status, slot table (slots 0-99 on "a", the rest on "b") and refreshes asked for. */
function fakeCluster(status = "ready"): EventEmitter & { status: string; slots: string[][]; refreshes: number; refreshSlotsCache(): void } {
  const slots = Array.from({ length: 16384 }, (_, slot) => [slot < 100 ? "a:1" : "b:1"]);
  return Object.assign(new EventEmitter(), { status, slots, refreshes: 0, refreshSlotsCache() { this.refreshes++; } });
}

function setup(status = "ready") {
  let now = 0;
  const lines: string[] = [];
  const logger = { info: (obj: object, msg?: string) => lines.push(`info ${msg?.split(":")[0]} ${JSON.stringify(obj)}`), warn: (obj: object, msg?: string) => lines.push(`warn ${msg?.split(":")[0]} ${JSON.stringify(obj)}`) };
  const client = fakeCluster(status);
  const health = new ClusterHealth(client as unknown as Cluster, { logger, probeEveryMs: 100, now: () => now });
  return { health, client, lines, advance: (ms: number) => void (now += ms) };
}

describe("ClusterHealth", () => {
  it("slotOf(key) is the key's Cluster slot, by its hash tag", () => {
    const { health } = setup();
    expect(health.slotOf("rl:{c1}")).to.equal(health.slotOf("other:{c1}"));
    expect(health.slotOf("{user1000}.following")).to.equal(3443); // the example of the Redis Cluster specification
  });

  it("healthOf(slot) is one breaker per run of slots served by one master", () => {
    const { health } = setup();
    expect(health.healthOf(5)).to.equal(health.healthOf(99));
    expect(health.healthOf(5)).to.not.equal(health.healthOf(100));
    expect(health.healthOf(100)).to.equal(health.healthOf(16383));
  });

  it("a failing shard skips Redis for its own slots only, logged once with its slots, and asks for the slot table each time", () => {
    const { health, client, lines, advance } = setup();
    lines.length = 0;
    for (let i = 0; i < 5; i++) health.healthOf(7).failed(new Error("Redis did not answer within 100 ms"));
    expect(client.refreshes).to.equal(5);
    expect(lines).to.deep.equal(['warn Redis Cluster shard lost {"redis":"down","slots":"0-99","err":"Redis did not answer within 100 ms"}']);
    expect(health.state).to.equal("down");
    advance(10);
    expect(health.healthOf(7).shouldTry()).to.equal(false);
    expect(health.healthOf(500).shouldTry()).to.equal(true);
    expect(health.healthOf(500).state).to.equal("up");
  });

  it("keeps a shard's breaker when a replica takes its slots over, and logs it back once", () => {
    const { health, client, lines } = setup();
    const shard = health.healthOf(7);
    shard.failed(new Error("connect ECONNREFUSED"));
    for (let slot = 0; slot < 100; slot++) client.slots[slot] = ["c:1"];
    client.emit("refresh");
    expect(health.healthOf(7)).to.equal(shard);
    health.healthOf(7).succeeded();
    health.healthOf(7).succeeded();
    expect(lines.slice(1).map((l) => l.split(" {")[0])).to.deep.equal(["warn Redis Cluster shard lost", "info Redis Cluster shard back"]);
    expect(health.state).to.equal("up");
  });

  it("answers with the whole client's breaker until the client is first ready", () => {
    const { health, client, lines } = setup("connecting");
    expect(health.state).to.equal("connecting");
    expect(health.healthOf(7)).to.equal(health.healthOf(500));
    client.emit("error", new Error("connect ECONNREFUSED"));
    expect(health.state).to.equal("down");
    client.emit("ready");
    expect(health.state).to.equal("up");
    expect(health.healthOf(7)).to.not.equal(health.healthOf(500));
    expect(lines.map((l) => l.split(" {")[0])).to.deep.equal(["warn Redis unreachable at start", "info Redis back"]);
  });
});
