import { ProxyTracerProvider } from "@opentelemetry/api";
import { expect } from "chai";
import { pino } from "pino";
import { Registry } from "prom-client";
import { createNodeApplication } from "../../lib/app/node-app.js";
import { CallContext } from "../../lib/core/context.js";
import type { Middleware } from "../../lib/core/middleware.js";
import { Status } from "../../lib/core/status.js";
import { createLogger } from "../../lib/logging/logger.js";
import { finishedAlready } from "../../lib/core/tail-call.js";
import { metrics } from "../../middleware/metrics.js";
import { tracing } from "../../middleware/tracing.js";
import { sample } from "../support/prometheus.js";

// The shortcut is invisible in outcomes, so these specs look at when the work is done: at
// once, inside run(), when the downstream finished synchronously.

const CONFIG = { authTokens: ["valid_token"], rateLimitCapacity: 1000, rateLimitRefillPerSecond: 1000, trustProxy: false };
const PUT = { grpc_type: "unary", grpc_service: "KeyValue", grpc_method: "Put" };

/** bin/node's chain with tracing() (no SDK) and metrics() in front, its log lines kept in memory. */
function nodeChain(registry: Registry): { app: ReturnType<typeof createNodeApplication>; lines: string[] } {
  const { logger } = createLogger({ destination: "/dev/null" });
  const lines: string[] = [];
  (logger as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!.write = (line) => void lines.push(line);
  const observability = [tracing({ tracerProvider: new ProxyTracerProvider() }), metrics({ registry })] as unknown as Middleware[];
  return { app: createNodeApplication({ config: CONFIG, logger, observability }), lines };
}

function put(token = "valid_token"): CallContext {
  return new CallContext({ service: "KeyValue", method: "Put", request: { key: "k", value: "v" }, metadata: { authorization: `Bearer ${token}` }, peer: "c1" });
}

describe("finishedAlready(done)", () => {
  it("is false for a promise it cannot know settled, even a resolved one", () => {
    expect(finishedAlready(Promise.resolve())).to.equal(false);
    expect(finishedAlready(new Promise<void>(() => {}))).to.equal(false);
  });

  it("bin/node's chain behind tracing() and metrics(): logged and counted before run() returns, one settled promise for every call", async () => {
    // Holds only while every layer finishes synchronously: logging or metrics awaiting their
    // downstream, or tracing() doing more than a tail call with no SDK, breaks it.
    const registry = new Registry();
    const { app, lines } = nodeChain(registry);
    const first = put();
    const second = put();
    const runs = [app.run(first), app.run(second)];
    expect(lines, "both lines written inside run()").to.have.length(2);
    expect(runs[0]).to.equal(runs[1]);
    await Promise.all(runs);
    expect([first.status, first.applied]).to.deep.equal([Status.OK, ["tracing", "metrics", "logging", "auth", "rate_limit"]]);
    expect(await sample(registry, "grpc_server_handled_total", { ...PUT, grpc_code: "OK" })).to.equal(2);
  });

  it("a call refused further in still awaits it: logged and counted once run() has settled", async () => {
    const registry = new Registry();
    const { app, lines } = nodeChain(registry);
    const ctx = put("wrong");
    const run = app.run(ctx);
    expect(lines).to.have.length(0);
    await run;
    expect([ctx.status, ctx.interceptorFailed, lines.length]).to.deep.equal([Status.UNAUTHENTICATED, "auth", 1]);
    expect(JSON.parse(lines[0] as string)).to.include({ status: "UNAUTHENTICATED", failed: "auth" });
    expect(await sample(registry, "grpc_server_handled_total", { ...PUT, grpc_code: "Unauthenticated" })).to.equal(1);
  });
});
