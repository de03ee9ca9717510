import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { LOG_LEVELS, type LogLevel } from "../../lib/logging/log-levels.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { auth } from "../../middleware/auth.js";
import { logging } from "../../middleware/logging.js";
import { type CapturedLogger, captureLogger } from "../support/log-capture.js";

const TOKEN = "tok-3f9a1c";

/** A clock that moves 12.3456 ms between the start and the end of each call. */
function steppingClock(): () => number {
  let t = 0;
  return () => (t += 12.3456);
}

/** logging -> auth -> a handler that does what `handler` says. */
function application(log: CapturedLogger, handler: (ctx: CallContext) => void = () => {}): Application {
  return new Application({ onError: () => {} })
    .use(logging({ logger: log.logger, now: steppingClock() }))
    .use(auth({ tokens: [TOKEN] }))
    .handle(handler);
}

function newCall(metadata: unknown, request: unknown = { key: "k1" }): CallContext {
  return new CallContext({ service: "KeyValue", method: "Get", request, metadata, peer: "c7" });
}

describe("logging()", () => {
  it("writes one info line per call with service, method, client, status and duration", async () => {
    const log = captureLogger("info");
    const app = application(log);
    await app.run(newCall({ authorization: `Bearer ${TOKEN}` }));
    const records = log.records();
    expect(records).to.have.length(1);
    expect(records[0]).to.deep.include({ level: 30, msg: "call", service: "KeyValue", method: "Get", client: "c7", status: "OK", ms: 12.346 });
    expect(records[0]).not.to.have.property("failed");
    expect(records[0]).not.to.have.property("metadata");
    expect(records[0]).not.to.have.property("request");
  });

  it("names the interceptor that ended the call, and its status", async () => {
    const log = captureLogger("info");
    const ctx = newCall({});
    await application(log).run(ctx);
    expect(log.records()).to.have.length(1);
    expect(log.records()[0]).to.deep.include({ status: "UNAUTHENTICATED", failed: "auth" });
    expect(ctx.interceptorFailed, "logging observes the failure, it does not swallow it").to.equal("auth");
  });

  it("logs a call the handler failed with its status and no failed interceptor", async () => {
    const log = captureLogger("info");
    const app = application(log, () => {
      throw new Error("bug");
    });
    await app.run(newCall({ authorization: `Bearer ${TOKEN}` }));
    expect(log.records()).to.have.length(1);
    expect(log.records()[0]).to.deep.include({ status: Status.INTERNAL });
    expect(log.records()[0]).not.to.have.property("failed");
  });

  it("logs a status the handler set (NOT_FOUND)", async () => {
    const log = captureLogger("info");
    await application(log, (ctx) => void (ctx.status = Status.NOT_FOUND)).run(newCall({ authorization: `Bearer ${TOKEN}` }));
    expect(log.records()[0]).to.deep.include({ status: "NOT_FOUND" });
  });

  it("adds the metadata at debug level, authorization redacted and the rest kept", async () => {
    const log = captureLogger("debug");
    await application(log).run(newCall({ Authorization: `Bearer ${TOKEN}`, "x-request-id": "r-1", cookie: "sid=abc" }));
    expect(log.records()[0]?.["metadata"]).to.deep.equal({ authorization: "[REDACTED]", "x-request-id": "r-1", cookie: "[REDACTED]" });
    expect(log.records()[0]).not.to.have.property("request");
  });

  it("adds the request payload at trace level only", async () => {
    const log = captureLogger("trace");
    await application(log).run(newCall({ authorization: `Bearer ${TOKEN}` }, { key: "k9" }));
    expect(log.records()[0]?.["request"]).to.deep.equal({ key: "k9" });
  });

  it("writes nothing below its level", async () => {
    const log = captureLogger("warn");
    await application(log).run(newCall({ authorization: `Bearer ${TOKEN}` }));
    expect(log.lines).to.deep.equal([]);
  });

  const everyLevel = LOG_LEVELS.filter((level): level is Exclude<LogLevel, "silent"> => level !== "silent");
  for (const level of everyLevel) {
    it(`never prints the bearer token at level ${level}, whether the call passes or fails`, async () => {
      const log = captureLogger(level);
      const app = application(log, () => {
        throw new StatusError(Status.INTERNAL, "handler failed");
      });
      for (const metadata of [
        { authorization: `Bearer ${TOKEN}` },
        { AUTHORIZATION: `bearer ${TOKEN}` },
        { Authorization: `Bearer ${TOKEN}-wrong` },
        { authorization: `Basic ${TOKEN}` },
        { "proxy-authorization": `Bearer ${TOKEN}`, "x-api-key": TOKEN },
      ]) {
        await app.run(newCall(metadata));
      }
      if (level === "trace" || level === "debug" || level === "info") expect(log.lines).to.have.length(5);
      expect(log.lines.join("")).not.to.include(TOKEN);
    });
  }

  it("returns a middleware named logging (its wire name)", () => {
    expect(logging({ logger: captureLogger().logger }).name).to.equal("logging");
  });
});
