import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { createLogger, redactMetadata } from "../../lib/logging/logger.js";
import { Metadata } from "../../lib/core/metadata.js";

describe("createLogger()", () => {
  let dir = "";
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "logger-spec-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes JSON lines at its level and above to a file descriptor, all of them out once flushed", () => {
    const file = join(dir, "log.jsonl");
    const fd = openSync(file, "w");
    const { logger, flush } = createLogger({ level: "warn", destination: fd });
    logger.info({ n: 1 }, "quiet");
    logger.warn({ n: 2 }, "heard");
    logger.error({ n: 3 }, "heard too");
    flush();
    flush(); // safe twice
    closeSync(fd);
    const records = readFileSync(file, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((r) => [r["level"], r["n"], r["msg"]])).to.deep.equal([
      [40, 2, "heard"],
      [50, 3, "heard too"],
    ]);
    expect(records[0]?.["pid"]).to.equal(process.pid);
  });
});

describe("redactMetadata()", () => {
  it("replaces secret values, whatever the key's case, and keeps the rest", () => {
    const md = new Metadata({ Authorization: "Bearer t", "PROXY-AUTHORIZATION": "Basic x", Cookie: "sid=1", "x-api-key": "k", "x-request-id": "r1" });
    expect(redactMetadata(md)).to.deep.equal({
      authorization: "[REDACTED]",
      "proxy-authorization": "[REDACTED]",
      cookie: "[REDACTED]",
      "x-api-key": "[REDACTED]",
      "x-request-id": "r1",
    });
  });
});
