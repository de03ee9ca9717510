import { expect } from "chai";
import { performance } from "node:perf_hooks";
import { Registry } from "prom-client";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import type { Next } from "../../lib/core/middleware.js";
import { createLogger } from "../../lib/logging/logger.js";
import { CallClock } from "../../lib/observability/call-clock.js";
import { logging } from "../../middleware/logging.js";
import { metrics } from "../../middleware/metrics.js";
import { pino } from "pino";
import { sample } from "../support/prometheus.js";

/** A clock that reads 1, 2, 3, ... and counts its reads. */
function counting(): { now: () => number; readonly reads: number } {
  let reads = 0;
  return {
    now: () => ++reads,
    get reads() {
      return reads;
    },
  };
}

const call = (): CallContext => new CallContext({ service: "KeyValue", method: "Get", request: {}, peer: "c1" });

describe("CallClock", () => {
  it("entered(call): an outer layer's reading serves the layers that enter after it", () => {
    const time = counting();
    const clock = new CallClock(time.now);
    const a = call();
    expect([clock.entered(a), clock.entered(a), time.reads]).to.deep.equal([1, 1, 1]);
  });

  it("left(call): never the entry's reading; an inner layer's reading serves the layers that leave after it", () => {
    const time = counting();
    const clock = new CallClock(time.now);
    const a = call();
    clock.entered(a);
    expect([clock.left(a), clock.left(a), time.reads]).to.deep.equal([2, 2, 2]);
    expect(clock.entered(a), "nor the exit's for an entry").to.equal(3);
  });

  it("suspended(call) forgets its reading; each call keeps its own", () => {
    const time = counting();
    const clock = new CallClock(time.now);
    const [a, b] = [call(), call()];
    clock.entered(a);
    clock.suspended(b);
    expect(clock.entered(a), "b's suspension leaves a's reading").to.equal(1);
    expect(clock.entered(b), "a's reading is a's").to.equal(2);
    expect(clock.entered(a), "b's reading is b's").to.equal(1);
    clock.suspended(a);
    expect(clock.entered(a)).to.equal(3);
    expect(clock.left(b), "b left afresh").to.equal(4);
  });

  it("never serves one clock's reading to another", () => {
    const time = counting();
    const [one, other] = [new CallClock(time.now), new CallClock(time.now)];
    const a = call();
    expect([one.entered(a), other.entered(a), one.entered(a)]).to.deep.equal([1, 2, 3]);
    other.suspended(a);
    expect(one.left(a), "another clock's suspension is not this one's").to.equal(4);
    expect(other.left(a)).to.equal(5);
  });

  describe("shared by metrics() and logging() (their default clock)", () => {
    let time: ReturnType<typeof counting>;
    beforeEach(() => {
      time = counting();
      performance.now = time.now;
    });
    afterEach(() => {
      delete (performance as { now?: unknown }).now; // the prototype's again
    });

    /** metrics(), then `between`, then logging(), around `handler`; the log lines kept. */
    function chain(between: ((ctx: CallContext, next: Next) => Promise<void>) | undefined, handler: (ctx: CallContext) => void | Promise<void>) {
      const registry = new Registry();
      const { logger } = createLogger({ destination: "/dev/null" });
      const lines: Record<string, unknown>[] = [];
      (logger as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!.write = (line) => void lines.push(JSON.parse(line));
      let app = new Application().use(metrics({ registry }));
      if (between !== undefined) app = app.use(between);
      return { app: app.use(logging({ logger })).handle(handler), registry, lines };
    }
    const seconds = (registry: Registry) => sample(registry, "grpc_server_handling_seconds_sum", { grpc_type: "unary", grpc_service: "KeyValue", grpc_method: "Get" });

    it("a call that finishes synchronously: two reads, the call's entry and exit, for both", async () => {
      const { app, registry, lines } = chain(undefined, () => {});
      await app.run(call());
      expect(time.reads).to.equal(2);
      expect([lines[0]?.["ms"], await seconds(registry)]).to.deep.equal([1, 0.001]);
    });

    it("a call that goes on later: the entry is shared, each exit read afresh once it settles", async () => {
      const { app, registry, lines } = chain(undefined, () => new Promise<void>((resolve) => setImmediate(resolve)));
      await app.run(call());
      expect(time.reads).to.equal(3);
      expect([lines[0]?.["ms"], await seconds(registry)]).to.deep.equal([1, 0.002]);
    });

    it("a middleware between them that waits before next(): nothing is shared", async () => {
      const waits = async function waits(_ctx: CallContext, next: Next): Promise<void> {
        await new Promise((resolve) => setImmediate(resolve));
        await next();
      };
      const { app, registry, lines } = chain(waits, () => {});
      await app.run(call());
      expect(time.reads).to.equal(4);
      expect([lines[0]?.["ms"], await seconds(registry)]).to.deep.equal([1, 0.003]);
    });
  });
});
