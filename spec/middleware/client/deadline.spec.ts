import { expect } from "chai";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { CallContext } from "../../../lib/core/context.js";
import { createClient } from "../../../lib/client/client.js";
import { encodeTimeout } from "../../../lib/client/deadline.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import type { Next } from "../../../lib/core/middleware.js";
import { Status } from "../../../lib/core/status.js";
import { deadline } from "../../../middleware/client/deadline.js";
import { retry } from "../../../middleware/client/retry.js";
import { FakeClock } from "../../support/fake-clock.js";
import { keyValueServer } from "../../support/servers.js";

/** A server middleware that holds `slow` calls until the client gives up (their signal aborts). */
function slowServer(isSlow: (ctx: CallContext) => boolean = () => true) {
  const aborted: unknown[] = [];
  const hold = async function hold(ctx: CallContext, next: Next): Promise<void> {
    if (!isSlow(ctx)) return next();
    const signal = ctx.signal;
    if (signal === undefined) throw new Error("a slow call needs a signal");
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    aborted.push(signal.reason);
  };
  return { ...keyValueServer(hold), aborted };
}

describe("deadline({ timeoutMs })", () => {
  it("ends a slow call DEADLINE_EXCEEDED at the deadline, not before, and leaves no timer", async () => {
    const clock = new FakeClock();
    const server = slowServer();
    const client = createClient(new InProcessTransport(server.app)).use(deadline({ timeoutMs: 100, clock }));
    let result: Awaited<ReturnType<typeof client.call>> | undefined;
    void client.call("KeyValue", "Get", { key: "k" }).then((r) => (result = r));

    await clock.advance(99);
    expect(result, "still waiting at 99 ms").to.equal(undefined);
    await clock.advance(1);
    expect(result?.status).to.equal(Status.DEADLINE_EXCEEDED);
    expect(result?.error?.message).to.equal("deadline of 100 ms exceeded");
    expect(server.aborted, "the server's signal aborted too (in-process)").to.have.length(1);
    expect(clock.pending).to.equal(0);
  });

  it("clears its timer in finally when the call ends first", async () => {
    const clock = new FakeClock();
    const client = createClient(new InProcessTransport(keyValueServer().app)).use(deadline({ timeoutMs: 60_000, clock }));
    expect((await client.call("KeyValue", "Put", { key: "k", value: "v" })).status).to.equal(Status.OK);
    expect(clock.delays).to.deep.equal([60_000]);
    expect(clock.pending).to.equal(0);
  });

  it("sends the budget left with each attempt as grpc-timeout", async () => {
    const clock = new FakeClock();
    let failures = 1;
    const { app, seen } = keyValueServer(async function flaky(ctx: CallContext, next: Next) {
      if (failures-- > 0) ctx.throw(Status.UNAVAILABLE);
      await next();
    });
    const client = createClient(new InProcessTransport(app))
      .use(deadline({ timeoutMs: 1000, clock }))
      .use(retry({ baseDelayMs: 100, clock, random: () => 1 }));
    expect((await clock.run(client.call("KeyValue", "Get", { key: "k" }))).status).to.equal(Status.NOT_FOUND);
    expect(seen.map((call) => call.metadata["grpc-timeout"])).to.deep.equal(["1000m", "900m"]);
  });

  it("only shrinks: a sooner deadline outside wins, a later one inside changes nothing", async () => {
    const clock = new FakeClock();
    const server = slowServer();
    const client = createClient(new InProcessTransport(server.app), { clock }).use(deadline({ timeoutMs: 1000, clock }));
    const call = clock.run(client.call("KeyValue", "Get", { key: "k" }, { timeoutMs: 100 }));
    const result = await call;
    expect(result.status).to.equal(Status.DEADLINE_EXCEEDED);
    expect(clock.now()).to.equal(100);
    expect(server.seen[0]?.metadata["grpc-timeout"]).to.equal("100m");
    expect(clock.pending).to.equal(0);
  });

  it("after retry(), bounds each attempt instead of the whole call", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const server = slowServer(() => ++calls === 1);
    const client = createClient(new InProcessTransport(server.app))
      .use(retry({ baseDelayMs: 10, clock, random: () => 1 }))
      .use(deadline({ timeoutMs: 100, clock }));
    const result = await clock.run(client.call("KeyValue", "Get", { key: "k" }));
    expect(result.status).to.equal(Status.NOT_FOUND); // the second attempt got through
    expect(clock.now()).to.equal(110);
    expect(server.seen.map((call) => call.metadata["grpc-timeout"])).to.deep.equal(["100m", "100m"]);
  });

  it("passes the caller's cancellation through: CANCELLED, timer cleared", async () => {
    const clock = new FakeClock();
    const server = slowServer();
    const client = createClient(new InProcessTransport(server.app)).use(deadline({ timeoutMs: 1000, clock }));
    const controller = new AbortController();
    const call = client.call("KeyValue", "Get", { key: "k" }, { signal: controller.signal });
    await clock.advance(10);
    controller.abort();
    expect((await call).status).to.equal(Status.CANCELLED);
    expect(clock.pending).to.equal(0);
  });

  it("checks timeoutMs when created", () => {
    for (const timeoutMs of [0, -5, Number.NaN, Infinity, "100" as never, undefined as never]) {
      expect(() => deadline({ timeoutMs }), String(timeoutMs)).to.throw(TypeError);
    }
  });

  it("leaves nothing behind: a process making such calls exits by itself", async function () {
    // A real clock this time: the child makes a call that beats a 60 s deadline, one that runs
    // into a 30 ms deadline and one that is retried, then reports the timers still active and
    // simply returns. A deadline timer left behind would keep it alive for a minute.
    this.timeout(20_000);
    const report = await runChild({});
    expect(report.exit).to.deep.equal({ code: 0, signal: null });
    expect(report.statuses).to.deep.equal(["OK", "DEADLINE_EXCEEDED", "NOT_FOUND"]);
    expect(report.activeTimers).to.equal(0);
  });

  it("(the check above catches a timer left behind)", async function () {
    this.timeout(20_000);
    const report = await runChild({ BREAK_CLEAR_TIMEOUT: "1" });
    expect(report.activeTimers).to.be.greaterThan(0);
    expect(report.exit.signal, "had to be killed").to.equal("SIGKILL");
  });
});

describe("encodeTimeout(ms)", () => {
  it("writes gRPC's grpc-timeout: at most 8 digits, rounded up", () => {
    expect(encodeTimeout(742.1)).to.equal("743m");
    expect(encodeTimeout(0)).to.equal("0m");
    expect(encodeTimeout(99_999_999)).to.equal("99999999m");
    expect(encodeTimeout(100_000_000)).to.equal("100000S");
    expect(encodeTimeout(1e12)).to.equal("16666667M");
  });
});

interface ChildReport {
  statuses: string[];
  activeTimers: number;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/** Runs spec/support/deadline-exit.js; kills it if it has not exited 10 s after reporting. */
function runChild(env: Record<string, string>): Promise<ChildReport> {
  const script = fileURLToPath(new URL("../../support/deadline-exit.js", import.meta.url));
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let killer: NodeJS.Timeout | undefined;
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    // Reported: from now on the child has nothing to do but exit.
    if (out.includes("\n") && killer === undefined) killer = setTimeout(() => child.kill("SIGKILL"), env["BREAK_CLEAR_TIMEOUT"] ? 0 : 10_000);
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      try {
        const { statuses, activeTimers } = JSON.parse(out) as Omit<ChildReport, "exit">;
        resolve({ statuses, activeTimers, exit: { code, signal } });
      } catch (error) {
        reject(error);
      }
    });
  });
}
