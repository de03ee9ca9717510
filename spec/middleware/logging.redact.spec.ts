import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { createLogger, type Logger } from "../../lib/logging/logger.js";
import { LOG_LEVELS } from "../../lib/logging/log-levels.js";
import { auth } from "../../middleware/auth.js";
import { logging } from "../../middleware/logging.js";
import { rateLimit } from "../../middleware/rate-limit.js";
import { captureLogger } from "../support/log-capture.js";

/** A secret per redactable place: built-in metadata keys, configured metadata keys, request fields. */
const SECRETS = {
  authorization: "Bearer tok-AAAA1111",
  cookie: "session=COOKIE2222",
  "x-api-key": "APIKEY3333",
  "x-session": "SESSION4444",
  password: "PASSWORD5555",
  nested: "NESTED6666",
  card: "CARD7777",
} as const;
const REDACT = ['metadata["x-session"]', "request.password", "request.*.token", "request.card"];

function newCall(peer = "c1"): CallContext {
  return new CallContext({
    service: "KeyValue",
    method: "Put",
    request: { key: "k", value: "v", password: SECRETS.password, profile: { token: SECRETS.nested }, card: SECRETS.card },
    metadata: { authorization: SECRETS.authorization, cookie: SECRETS.cookie, "x-api-key": SECRETS["x-api-key"], "x-session": SECRETS["x-session"] },
    peer,
  });
}

/** Runs an admitted call, a refused one (wrong token) and a rate-limited one through logging with `logger`. */
async function runCalls(logger: Logger, redact: readonly string[] = REDACT): Promise<CallContext[]> {
  const app = new Application({ onError: () => {} })
    .use(logging({ logger, redact }))
    .use(auth({ tokens: ["tok-AAAA1111"] }))
    .use(rateLimit({ capacity: 1, refillPerSecond: 0.001 }))
    .handle(() => {});
  const calls = [newCall(), newCall(), newCall("c2")];
  const wrong = calls[2] as CallContext;
  wrong.metadata.set("authorization", "Bearer WRONG8888");
  for (const ctx of calls) await app.run(ctx);
  return calls;
}

const leaked = (text: string): string[] => [...Object.values(SECRETS).map((s) => s.replace(/^Bearer /, "")), "WRONG8888"].filter((s) => text.includes(s));

describe("logging({ redact })", () => {
  for (const level of LOG_LEVELS.filter((l) => l !== "silent")) {
    it(`keeps every secret out of a pino logger's lines at ${level}`, async () => {
      const log = captureLogger(level);
      await runCalls(log.logger);
      expect(leaked(log.lines.join("\n"))).to.deep.equal([]);
    });

    it(`keeps every secret out of the hand-built line of createLogger's logger at ${level}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "redact-"));
      try {
        const path = join(dir, "log");
        const { logger, flush } = createLogger({ level, destination: path });
        await runCalls(logger);
        flush();
        const text = readFileSync(path, "utf8");
        if (level === "trace" || level === "debug" || level === "info") expect(text).to.include('"msg":"call"');
        expect(leaked(text)).to.deep.equal([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("still logs what it does not redact, and marks what it does", async () => {
    const log = captureLogger("trace");
    await runCalls(log.logger);
    const first = log.records()[0] as Record<string, Record<string, unknown>>;
    expect(first["request"]).to.deep.include({ key: "k", value: "v", password: "[REDACTED]", card: "[REDACTED]", profile: { token: "[REDACTED]" } });
    expect(first["metadata"]).to.deep.equal({ authorization: "[REDACTED]", cookie: "[REDACTED]", "x-api-key": "[REDACTED]", "x-session": "[REDACTED]" });
  });

  it("leaves the request the handler sees untouched", async () => {
    const [ctx] = await runCalls(captureLogger("trace").logger);
    expect((ctx?.request as Record<string, unknown>)["password"]).to.equal(SECRETS.password);
  });

  it("censors a whole field of the info line, in the hand-built line too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "redact-"));
    try {
      const path = join(dir, "log");
      const { logger, flush } = createLogger({ level: "info", destination: path });
      await runCalls(logger, ["client"]);
      flush();
      const lines = readFileSync(path, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.map((line) => line["client"])).to.deep.equal(["[REDACTED]", "[REDACTED]", "[REDACTED]"]);
      expect(lines[1]?.["retryAfterMs"]).to.be.a("number");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("throws at once for a path it cannot read", () => {
    expect(() => logging({ redact: ["request..password"] })).to.throw(TypeError, /redact/);
    expect(() => logging({ redact: [""] })).to.throw(TypeError, /redact/);
  });
});
