import { expect } from "chai";
import { EventEmitter } from "node:events";
import { RedisHealth } from "../../lib/limiters/redis-health.js";

function setup(probeEveryMs = 100) {
  let now = 0;
  const lines: { level: string; msg: string | undefined }[] = [];
  const logger = { info: (_: object, msg?: string) => lines.push({ level: "info", msg }), warn: (_: object, msg?: string) => lines.push({ level: "warn", msg }) };
  const client = new EventEmitter();
  const health = new RedisHealth({ logger, probeEveryMs, now: () => now }).watch(client);
  return { health, client, lines, advance: (ms: number) => void (now += ms), summary: () => lines.map((l) => `${l.level} ${l.msg?.split(":")[0]}`) };
}

describe("RedisHealth", () => {
  describe("before the first connection", () => {
    it("lets calls try Redis and does not take their failures for an outage", () => {
      const { health, lines } = setup();
      expect(health.state).to.equal("connecting");
      expect(health.shouldTry()).to.equal(true);
      health.failed(new Error("Stream isn't writeable"));
      expect(health.state).to.equal("connecting");
      expect(lines).to.deep.equal([]);
    });

    it("logs one line when connecting fails, however often it fails", () => {
      const { health, client, summary } = setup();
      for (let i = 0; i < 5; i++) client.emit("error", new Error("connect ECONNREFUSED"));
      expect(health.state).to.equal("down");
      expect(summary()).to.deep.equal(["warn Redis unreachable at start"]);
    });

    it("counts a client that is connected already as up", () => {
      const client = Object.assign(new EventEmitter(), { status: "ready" });
      expect(new RedisHealth().watch(client).state).to.equal("up");
    });
  });

  describe("shouldTry()", () => {
    it("while down lets one call through per probeEveryMs", () => {
      const { health, advance } = setup(100);
      health.succeeded();
      health.failed(new Error("Command timed out"));
      expect(health.shouldTry()).to.equal(false);
      advance(99);
      expect(health.shouldTry()).to.equal(false);
      advance(1);
      expect([health.shouldTry(), health.shouldTry()]).to.deep.equal([true, false]);
      advance(100);
      expect(health.shouldTry()).to.equal(true);
    });
  });

  describe("failed() and succeeded()", () => {
    it("log each change of state once, not once per call", () => {
      const { health, client, summary } = setup();
      client.emit("ready");
      for (let i = 0; i < 10; i++) health.succeeded();
      for (let i = 0; i < 10; i++) health.failed(new Error("Connection is closed."));
      client.emit("error", new Error("connect ECONNREFUSED"));
      client.emit("ready");
      health.succeeded();
      expect(summary()).to.deep.equal(["info Redis connected", "warn Redis lost", "info Redis back"]);
    });
  });
});
