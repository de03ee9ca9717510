import { expect } from "chai";
import { pino } from "pino";
import { createLogger } from "../../lib/logging/logger.js";
import { type InfoLineValue, infoLineWriter } from "../../lib/logging/pino-line.js";

/** A logger made by createLogger whose lines are kept in memory (its sink's write replaced). */
function plainLogger(level: "info" | "warn" = "info", mixin?: () => object): { logger: pino.Logger; lines: string[] } {
  const { logger } = createLogger({ level, destination: "/dev/null", mixin });
  const lines: string[] = [];
  (logger as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!.write = (line) => void lines.push(line);
  return { logger, lines };
}

describe("infoLineWriter()", () => {
  const keys = ["service", "client", "status", "ms", "ok", "failed"];
  const cases: InfoLineValue[][] = [
    ["KeyValue", "c1", "OK", 0.041, true, undefined],
    ["KeyValue", 'quote " back \\ slash', "NOT_FOUND", 12.3, false, "auth"],
    ["Ünïcödé ☃ 😀", "tab\there\nnewline", "OK", 0, undefined, undefined],
    ["x", "control \u0001 char", "OK", 2147483.647, true, "rate_limit"],
    ["x", "", "OK", 1e21, true, undefined],
    ["x", "lone \ud800 surrogate", "OK", -1.5, true, undefined],
    ["x", "y", "OK", Number.NaN, true, undefined],
    ["x", "y", "OK", 3.14159, true, undefined],
  ];

  it("prints, for a logger made by createLogger, the text pino's own info() prints (but the time)", () => {
    const { logger, lines } = plainLogger();
    const write = infoLineWriter(logger, "call", keys);
    for (const values of cases) {
      const fields: Record<string, InfoLineValue> = {};
      keys.forEach((key, i) => {
        if (values[i] !== undefined) fields[key] = values[i];
      });
      logger.info(fields, "call");
      write(values);
    }
    expect(lines).to.have.length(2 * cases.length);
    const untimed = (line: string): string => line.replace(/"time":\d+/, '"time":0');
    for (let i = 0; i < cases.length; i++) {
      const [byPino, byWriter] = [lines[2 * i] as string, lines[2 * i + 1] as string];
      // pino prints a lone surrogate raw, JSON.stringify escapes it: the same value once parsed.
      if (i === 5) expect(JSON.parse(byWriter)).to.deep.equal({ ...JSON.parse(byPino), time: JSON.parse(byWriter).time });
      else expect(untimed(byWriter), `case ${i}`).to.equal(untimed(byPino));
    }
  });

  it("prints a mixin's fields first, as pino merges them: trace_id and span_id of a traced call, none outside one", () => {
    const mixed: object[] = [{ trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7" }, {}, { n: 7, ok: false, gone: undefined, "odd \"key\"": "v" }];
    let next = 0;
    const { logger, lines } = plainLogger("info", () => ({ ...mixed[Math.floor(next++ / 2) % mixed.length] }));
    const write = infoLineWriter(logger, "call", ["service", "status", "ms"]);
    const byPino = logger.info.bind(logger);
    let infoCalls = 0;
    logger.info = ((...args: Parameters<typeof byPino>) => void (infoCalls++, byPino(...args))) as typeof logger.info;
    for (let i = 0; i < mixed.length; i++) {
      byPino({ service: "KeyValue", status: "OK", ms: 0.25 }, "call");
      write(["KeyValue", "OK", 0.25]);
    }
    expect(infoCalls, "the writer built the lines itself").to.equal(0);
    const untimed = (line: string): string => line.replace(/"time":\d+/, '"time":0');
    expect(lines.map(untimed)).to.have.length(6);
    for (let i = 0; i < mixed.length; i++) expect(untimed(lines[2 * i + 1] as string), `mixin ${i}`).to.equal(untimed(lines[2 * i] as string));
    expect(JSON.parse(lines[1] as string)).to.include({ trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7", service: "KeyValue" });
    expect(lines[1]).to.match(/"pid":\d+,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","service":/);
  });

  it("leaves to pino a line whose mixin fields it cannot print as pino would: an object value, a key the line has too", () => {
    for (const fields of [{ nested: { a: 1 } }, { status: "from the mixin", extra: "x" }]) {
      const { logger, lines } = plainLogger("info", () => ({ ...fields }));
      logger.info({ service: "KeyValue", status: "OK" }, "call");
      infoLineWriter(logger, "call", ["service", "status"])(["KeyValue", "OK"]);
      const untimed = (line: string): string => line.replace(/"time":\d+/, '"time":0');
      expect(untimed(lines[1] as string)).to.equal(untimed(lines[0] as string));
    }
  });

  it("writes nothing below its logger's level, and follows a level change", () => {
    const { logger, lines } = plainLogger("warn");
    const write = infoLineWriter(logger, "call", ["a"]);
    write(["quiet"]);
    expect(lines).to.deep.equal([]);
    logger.level = "info";
    write(["heard"]);
    logger.level = "error";
    write(["quiet again"]);
    expect(lines.map((line) => JSON.parse(line).a)).to.deep.equal(["heard"]);
  });

  it("goes through info() for any other logger (a child, a user's pino)", () => {
    const lines: string[] = [];
    const logger = pino({ base: null, level: "info" }, { write: (line: string) => void lines.push(line) }).child({ request: 7 });
    infoLineWriter(logger, "call", ["a", "b"])(["x", undefined]);
    expect(lines.map((line) => JSON.parse(line))).to.deep.equal([{ level: 30, time: JSON.parse(lines[0] as string).time, request: 7, a: "x", msg: "call" }]);
  });
});
