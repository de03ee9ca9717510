import { expect } from "chai";
import { performance } from "node:perf_hooks";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { Status } from "../../lib/core/status.js";
import { faults } from "../../middleware/faults.js";
import { FakeClock } from "../support/fake-clock.js";
import { Prng } from "../support/prng.js";

async function run(app: Application, method = "Get", metadata: Record<string, string> = {}): Promise<CallContext> {
  const ctx = new CallContext({ service: "KeyValue", method, request: {}, metadata, peer: "c1" });
  await app.run(ctx);
  return ctx;
}

const appWith = (middleware: ReturnType<typeof faults>): Application => new Application({ onError: () => {} }).use(middleware).handle(() => {});

describe("faults()", () => {
  it("aborts 10% of 10,000 calls within 8-12% (seeded), named faults, with the chosen status", async () => {
    const prng = new Prng(20261130);
    const app = appWith(faults({ rules: [{ abort: "UNAVAILABLE", abortPercent: 10 }], random: () => prng.next() }));
    let aborted = 0;
    for (let i = 0; i < 10_000; i++) {
      const ctx = await run(app);
      if (ctx.status === Status.UNAVAILABLE) {
        aborted++;
        expect(ctx.interceptorFailed).to.equal("faults");
      } else expect(ctx.status).to.equal(Status.OK);
    }
    expect(aborted).to.be.within(800, 1200);
  });

  it("aborts 10% of 10,000 calls within 8-12% with Math.random too (6.7 standard deviations of room each side)", async () => {
    const app = appWith(faults({ rules: [{ abort: "INTERNAL", abortPercent: 10 }] }));
    let aborted = 0;
    for (let i = 0; i < 10_000; i++) if ((await run(app)).status !== Status.OK) aborted++;
    expect(aborted).to.be.within(800, 1200);
  });

  it("delays the calls it picks, by the selector; the delay shows in latency", async () => {
    const app = appWith(faults({ rules: [{ methods: "KeyValue/Put", delayMs: 60 }] }));
    let start = performance.now();
    await run(app, "Put");
    expect(performance.now() - start).to.be.at.least(55);
    start = performance.now();
    await run(app, "Get");
    expect(performance.now() - start).to.be.below(30);
  });

  it("delays on its clock and ends the delay when the call is cancelled", async () => {
    const clock = new FakeClock();
    const app = appWith(faults({ rules: [{ delayMs: 1000 }], clock }));
    const controller = new AbortController();
    const ctx = new CallContext({ service: "KeyValue", method: "Get", request: {}, peer: "c1", signal: controller.signal });
    const done = app.run(ctx);
    await clock.advance(500);
    controller.abort();
    await done;
    expect(ctx.status).to.equal(Status.CANCELLED);
    expect(clock.delays).to.deep.equal([1000]);
  });

  it("honours x-fault-* metadata only with fromMetadata", async () => {
    const asked = { "x-fault-abort": "RESOURCE_EXHAUSTED" };
    expect((await run(appWith(faults({ rules: [{ methods: "Other/*", delayMs: 1 }] })), "Get", asked)).status).to.equal(Status.OK);
    const open = appWith(faults({ fromMetadata: true }));
    expect((await run(open, "Get", asked)).status).to.equal(Status.RESOURCE_EXHAUSTED);
    expect((await run(open, "Get", { "x-fault-abort": "14" })).status).to.equal(Status.UNAVAILABLE);
    expect((await run(open, "Get", { "x-fault-abort": "UNAVAILABLE", "x-fault-abort-percent": "0" })).status).to.equal(Status.OK);
    expect((await run(open, "Get", { "x-fault-abort": "nonsense" })).status).to.equal(Status.INVALID_ARGUMENT);
    expect((await run(open, "Get", { "x-fault-delay-ms": "999999" })).status).to.equal(Status.INVALID_ARGUMENT);
    const start = performance.now();
    expect((await run(open, "Get", { "x-fault-delay-ms": "40" })).status).to.equal(Status.OK);
    expect(performance.now() - start).to.be.at.least(35);
  });

  it("throws at once for bad rules and for nothing to inject", () => {
    expect(() => faults({})).to.throw(TypeError, /rules, or fromMetadata/);
    expect(() => faults({ rules: [{ abort: "NOPE" as never }] })).to.throw(TypeError, /abort/);
    expect(() => faults({ rules: [{ abort: "OK" }] })).to.throw(TypeError, /abort/);
    expect(() => faults({ rules: [{ delayMs: 1, delayPercent: 101 }] })).to.throw(TypeError, /0 to 100/);
    expect(() => faults({ rules: [{ methods: "bad", delayMs: 1 }] })).to.throw(TypeError, /Service\/Method/);
    expect(() => faults({ rules: [{}] })).to.throw(TypeError, /delayMs, abort/);
  });
});
