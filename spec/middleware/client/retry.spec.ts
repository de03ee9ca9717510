import { expect } from "chai";
import type { CallContext } from "../../../lib/core/context.js";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import type { Next } from "../../../lib/core/middleware.js";
import { Status, type StatusName } from "../../../lib/core/status.js";
import { StatusError } from "../../../lib/core/status-error.js";
import type { Reply, Transport } from "../../../lib/client/transport.js";
import { deadline } from "../../../middleware/client/deadline.js";
import { logging } from "../../../middleware/client/logging.js";
import { retry, type RetryEvent } from "../../../middleware/client/retry.js";
import { FakeClock } from "../../support/fake-clock.js";
import { keyValueServer, MemoryLogger } from "../../support/servers.js";

/** A server middleware that fails the first `times` calls with `status` and records when each arrived. */
function faults(clock: FakeClock, times: number, status: StatusName = Status.UNAVAILABLE) {
  const arrivals: number[] = [];
  const middleware = async function fault(_ctx: CallContext, next: Next): Promise<void> {
    arrivals.push(clock.now());
    if (arrivals.length <= times) throw new StatusError(status, "injected fault");
    await next();
  };
  return { middleware, arrivals };
}

/** Numbers for the jitter, in turn. */
const sequence = (...values: number[]) => () => {
  const value = values.shift();
  if (value === undefined) throw new Error("random() called more often than the spec expected");
  return value;
};

describe("retry(options)", () => {
  it("sends a Get again until it succeeds: two UNAVAILABLEs, then OK on the third attempt", async () => {
    const clock = new FakeClock();
    const fault = faults(clock, 2);
    const { app, store } = keyValueServer(fault.middleware);
    store.set("k", "v");
    const events: RetryEvent[] = [];
    const client = createClient(new InProcessTransport(app)).use(
      retry({ maxAttempts: 3, baseDelayMs: 100, clock, random: () => 0.5, onRetry: (event) => events.push(event) }),
    );
    const result = await clock.run(client.call("KeyValue", "Get", { key: "k" }));
    expect(result.status).to.equal(Status.OK);
    expect(result.response).to.deep.equal({ key: "k", value: "v", found: true });
    expect(fault.arrivals).to.deep.equal([0, 50, 150]);
    expect(events).to.deep.equal([
      { attempt: 1, status: Status.UNAVAILABLE, delayMs: 50 },
      { attempt: 2, status: Status.UNAVAILABLE, delayMs: 100 },
    ]);
  });

  it("waits random() x min(maxDelayMs, baseDelayMs x 2^(n-1)) before retry n (full jitter)", async () => {
    const clock = new FakeClock();
    const fault = faults(clock, 4);
    const client = createClient(new InProcessTransport(keyValueServer(fault.middleware).app)).use(
      retry({ maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 300, clock, random: sequence(0.25, 0.75, 1, 0) }),
    );
    await clock.run(client.call("KeyValue", "Get", { key: "k" }));
    // caps 100, 200, 300 (400 capped), 300 (800 capped)
    expect(clock.delays).to.deep.equal([25, 150, 300, 0]);
    expect(fault.arrivals).to.deep.equal([0, 25, 175, 475, 475]);
  });

  it("gives up after maxAttempts with the last attempt's outcome", async () => {
    const clock = new FakeClock();
    const fault = faults(clock, 10);
    const logger = new MemoryLogger();
    const client = createClient(new InProcessTransport(keyValueServer(fault.middleware).app))
      .use(logging({ logger, now: () => clock.now() }))
      .use(retry({ maxAttempts: 3, clock, random: () => 0 }));
    const result = await clock.run(client.call("KeyValue", "Get", { key: "k" }));
    expect(result.status).to.equal(Status.UNAVAILABLE);
    expect(fault.arrivals).to.have.length(3);
    // logging outside retry: one line for the call, from the attempt that ended it
    expect(logger.lines.map((line) => line.obj)).to.deep.equal([{ service: "KeyValue", method: "Get", status: "UNAVAILABLE", ms: 0, attempt: 3, failed: "fault" }]);
  });

  it("retries DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED only with a hint, and nothing else by default", async () => {
    const cases: [StatusName, number][] = [
      [Status.RESOURCE_EXHAUSTED, 1],
      [Status.DEADLINE_EXCEEDED, 2],
      [Status.INTERNAL, 1],
      [Status.UNAUTHENTICATED, 1],
      [Status.INVALID_ARGUMENT, 1],
    ];
    for (const [status, attempts] of cases) {
      const clock = new FakeClock();
      const fault = faults(clock, 1, status);
      const client = createClient(new InProcessTransport(keyValueServer(fault.middleware).app)).use(retry({ maxAttempts: 2, clock, random: () => 0 }));
      await clock.run(client.call("KeyValue", "Get", { key: "k" }));
      expect(fault.arrivals, status).to.have.length(attempts);
    }
  });

  it("does not send a non-idempotent Put twice", async () => {
    const clock = new FakeClock();
    const fault = faults(clock, 10);
    const client = createClient(new InProcessTransport(keyValueServer(fault.middleware).app)).use(retry({ maxAttempts: 5, clock, random: () => 0 }));
    const result = await clock.run(client.call("KeyValue", "Put", { key: "k", value: "v" }));
    expect(result.status).to.equal(Status.UNAVAILABLE);
    expect(fault.arrivals).to.have.length(1);
    expect(clock.delays).to.deep.equal([]);
  });

  it("retries what `idempotent` names instead", async () => {
    const clock = new FakeClock();
    const fault = faults(clock, 1);
    const client = createClient(new InProcessTransport(keyValueServer(fault.middleware).app)).use(
      retry({ idempotent: ["KeyValue/Put"], clock, random: () => 0 }),
    );
    expect((await clock.run(client.call("KeyValue", "Put", { key: "k", value: "v" }))).status).to.equal(Status.OK);
    expect(fault.arrivals).to.have.length(2);
  });

  it("stops retrying when the next wait would pass the deadline, keeping the last outcome", async () => {
    const clock = new FakeClock();
    const fault = faults(clock, 10);
    const events: RetryEvent[] = [];
    const client = createClient(new InProcessTransport(keyValueServer(fault.middleware).app))
      .use(deadline({ timeoutMs: 250, clock }))
      .use(retry({ maxAttempts: 10, baseDelayMs: 100, clock, random: () => 1, onRetry: (event) => events.push(event) }));
    const result = await clock.run(client.call("KeyValue", "Get", { key: "k" }));
    // attempt 1 at 0, wait 100, attempt 2 at 100; a wait of 200 would end at 300 > 250: stop.
    expect(fault.arrivals).to.deep.equal([0, 100]);
    expect(events.map((e) => e.delayMs)).to.deep.equal([100]);
    expect(result.status).to.equal(Status.UNAVAILABLE);
    expect(clock.pending).to.equal(0);
  });

  it("stops when the call's signal aborts during a wait, with the abort's status", async () => {
    const reasons = [
      [new DOMException("caller gave up", "AbortError"), Status.CANCELLED],
      [new DOMException("caller's own timer", "TimeoutError"), Status.DEADLINE_EXCEEDED],
    ] as const;
    for (const [reason, status] of reasons) {
      const clock = new FakeClock();
      const fault = faults(clock, 10);
      const client = createClient(new InProcessTransport(keyValueServer(fault.middleware).app)).use(retry({ maxAttempts: 10, baseDelayMs: 100, clock, random: () => 1 }));
      const controller = new AbortController();
      const call = client.call("KeyValue", "Get", { key: "k" }, { signal: controller.signal });
      await clock.advance(50);
      expect(clock.pending, "waiting for retry 1").to.equal(1);
      controller.abort(reason);
      const result = await call;
      expect(result.status).to.equal(status);
      expect(fault.arrivals).to.deep.equal([0]);
      expect(clock.pending, "the wait's timer is cleared").to.equal(0);
    }
  });

  it("checks its options when created", () => {
    for (const options of [{ maxAttempts: 0 }, { maxAttempts: 1.5 }, { baseDelayMs: -1 }, { maxDelayMs: Number.NaN }, { retryableStatuses: ["NOPE" as StatusName] }, { random: 3 as never }]) {
      expect(() => retry(options), JSON.stringify(options)).to.throw(TypeError);
    }
  });

  describe("the server's retry hint (ctx.retryAfterMs: RetryInfo, grpc-retry-pushback-ms)", () => {
    /** A transport that answers with `replies` in turn and counts the calls. */
    function scripted(...replies: Reply[]) {
      const sent: number[] = [];
      const transport: Transport = {
        unary: () => {
          sent.push(sent.length + 1);
          return Promise.resolve(replies.shift() ?? { status: Status.OK, response: {} });
        },
        close: () => Promise.resolve(),
      };
      return { transport, sent };
    }

    it("waits exactly the hinted delay, no jitter, before retrying RESOURCE_EXHAUSTED", async () => {
      const clock = new FakeClock();
      const { transport, sent } = scripted({ status: Status.RESOURCE_EXHAUSTED, retryAfterMs: 250 });
      const client = createClient(transport).use(retry({ clock, random: () => 0.5 }));
      const result = await clock.run(client.call("KeyValue", "Get", { key: "k" }));
      expect(result.status).to.equal(Status.OK);
      expect(sent).to.have.length(2);
      expect(clock.delays).to.deep.equal([250]);
    });

    it("does not retry after a negative pushback (gRFC A6: do not retry)", async () => {
      const clock = new FakeClock();
      const { transport, sent } = scripted({ status: Status.UNAVAILABLE, retryAfterMs: -1 });
      const result = await clock.run(createClient(transport).use(retry({ clock })).call("KeyValue", "Get", { key: "k" }));
      expect(result.status).to.equal(Status.UNAVAILABLE);
      expect(sent).to.have.length(1);
    });

    it("retries RESOURCE_EXHAUSTED without a hint only with retryExhaustedWithoutHint", async () => {
      const clock = new FakeClock();
      const { transport, sent } = scripted({ status: Status.RESOURCE_EXHAUSTED });
      const result = await clock.run(createClient(transport).use(retry({ clock, random: () => 0, retryExhaustedWithoutHint: true })).call("KeyValue", "Get", { key: "k" }));
      expect(result.status).to.equal(Status.OK);
      expect(sent).to.have.length(2);
    });

    it("gives up when the hinted delay would end past the deadline", async () => {
      const clock = new FakeClock();
      const { transport, sent } = scripted({ status: Status.RESOURCE_EXHAUSTED, retryAfterMs: 5000 });
      const client = createClient(transport, { clock }).use(deadline({ timeoutMs: 1000, clock })).use(retry({ clock }));
      const result = await clock.run(client.call("KeyValue", "Get", { key: "k" }));
      expect(result.status).to.equal(Status.RESOURCE_EXHAUSTED);
      expect(sent).to.have.length(1);
    });
  });
});
