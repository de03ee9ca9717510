import { expect } from "chai";
import { isDeepStrictEqual } from "node:util";
import { type FuzzLine, FuzzLines, type LineKind } from "../support/fuzz-lines.js";
import { type ModelReply, NodeModel } from "../support/node-model.js";
import { NodeProcess } from "../support/node-process.js";
import { pythonMissing, pythonPrints } from "../support/python-numbers.js";

// Fuzzing the real bin/node: 100,000 lines of valid messages mixed with mutated ones
// (truncated JSON, wrong types in every field, numbers no double holds, arrays nested 100,000
// deep, NUL and invalid UTF-8 bytes, __proto__ and constructor keys, missing src/body/msg_id,
// metadata, keys and values over their limits, garbage). The node must not crash, must exit 0, and must print nothing but protocol lines:
// exactly the replies an independent model of the protocol (spec/support/node-model.ts) owes,
// in order, numbered 0, 1, 2, ..., stats included.
//
// The lines come from a seeded generator: FUZZ_SEED=<n> replays a run (a failure prints its
// seed), FUZZ_LINES=<n> changes the count (e.g. a million for a long run).

const SEED = Number(process.env["FUZZ_SEED"] ?? 7_2026);
const LINES = Number(process.env["FUZZ_LINES"] ?? 100_000);
const CAPACITY = 150;
/** Small limits, so that the mutations reach them. */
const LIMITS = { maxMetadataEntries: 8, maxMetadataValueBytes: 64, maxKeyBytes: 16, maxValueBytes: 64 };

/** The first differences between what the node printed and what the model owes, as text. */
function differences(printed: readonly string[], owed: readonly ModelReply[]): string[] {
  const found: string[] = [];
  const count = Math.max(printed.length, owed.length);
  for (let i = 0; i < count && found.length < 5; i++) {
    const line = printed[i];
    const want = owed[i];
    let got: unknown;
    try {
      got = line === undefined ? undefined : JSON.parse(line);
    } catch {
      found.push(`line ${i} is not JSON: ${line?.slice(0, 300)}`);
      continue;
    }
    const sameKeys = (a: unknown, b: unknown): boolean =>
      a !== null && typeof a === "object" && b !== null && typeof b === "object" && isDeepStrictEqual(Object.keys(a), Object.keys(b));
    // -0 as a value: Python prints the int token -0 as 0 and the float -0.0 as -0.0; the text is checked apart.
    const zeroed = (reply: ModelReply): ModelReply => ({ ...reply, body: { ...reply.body, in_reply_to: Object.is(reply.body["in_reply_to"], -0) ? 0 : reply.body["in_reply_to"] } });
    const normal = want === undefined ? undefined : zeroed(want);
    if (got !== null && typeof got === "object" && "body" in got) got = zeroed(got as ModelReply);
    if (!isDeepStrictEqual(got, normal) || !sameKeys(got, normal) || !sameKeys((got as ModelReply).body, normal?.body)) {
      found.push(`reply ${i}:\n  printed ${line?.slice(0, 400)}\n  owed    ${JSON.stringify(want)?.slice(0, 400)}`);
    }
  }
  return found;
}

describe("bin/node fuzzed (end to end)", function () {
  this.timeout(60_000);

  it(`survives ${LINES.toLocaleString("en")} fuzzed lines (seed ${SEED}): exit 0, only protocol lines, every answerable message answered as owed, stats consistent`, async () => {
    const lines: FuzzLine[] = new FuzzLines(SEED).lines(LINES);
    const kinds = new Map<LineKind, number>();
    for (const line of lines) kinds.set(line.kind, (kinds.get(line.kind) ?? 0) + 1);

    const model = new NodeModel({ tokens: ["valid_token"], capacity: CAPACITY, ...LIMITS });
    const answered = lines.map((line) => ({ line, reply: model.reply(line.bytes) })).filter((pair): pair is { line: FuzzLine; reply: ModelReply } => pair.reply !== undefined);
    const owed = answered.map((pair) => pair.reply);

    const node = NodeProcess.start({
      env: {
        LOG_LEVEL: "warn",
        RATE_LIMIT_CAPACITY: String(CAPACITY),
        RATE_LIMIT_REFILL_PER_SEC: "0",
        MAX_METADATA_ENTRIES: String(LIMITS.maxMetadataEntries),
        MAX_METADATA_VALUE_BYTES: String(LIMITS.maxMetadataValueBytes),
        MAX_KEY_BYTES: String(LIMITS.maxKeyBytes),
        MAX_VALUE_BYTES: String(LIMITS.maxValueBytes),
      },
    });
    const input = Buffer.concat(lines.flatMap((line) => [line.bytes, Buffer.from("\n")]));
    node.writeRaw(input);
    node.end();
    const exit = await node.exited(45_000);

    const printed = node.lines;
    const statuses = new Map<string, number>();
    for (const reply of owed) {
      const status = reply.body["status"];
      const label = typeof status === "string" ? (Array.isArray(reply.body["interceptors_applied"]) && reply.body["interceptors_applied"].length === 0 ? `${status} (refused at the door)` : status) : String(reply.body["type"]);
      statuses.set(label, (statuses.get(label) ?? 0) + 1);
    }
    process.stdout.write(
      `      (${(input.length / 2 ** 20).toFixed(1)} MiB in, ${printed.length} replies owed and printed; ` +
        `${model.stats.total_requests} calls, ${model.stats.auth_failures} unauthenticated, ${model.stats.rate_limited} rate limited; ` +
        `lines: ${[...kinds].map(([kind, n]) => `${kind} ${n}`).join(", ")}; replies: ${[...statuses].map(([status, n]) => `${status} ${n}`).join(", ")})\n`,
    );
    expect(exit, `exit; stderr tail:\n${node.stderr.slice(-1500)}`).to.deep.equal({ code: 0, signal: null });
    expect(node.stdout.endsWith("\n") || node.stdout === "", "stdout ends with a whole line").to.equal(true);
    expect(differences(printed, owed).join("\n"), `seed ${SEED}`).to.equal("");
    expect(printed).to.have.length(owed.length);
    expect(node.stderr, "no stack trace on stderr").not.to.match(/\n\s+at .*:\d+:\d+/);
    for (const record of node.logRecords) expect(record["level"], JSON.stringify(record)).to.be.at.most(40);
    // Enough of each kind made it through the generator for the run to mean something.
    // A numeric msg_id comes back as Python prints it: compared as text, not as parsed values.
    const numeric = answered.flatMap(({ line }, i) => (line.msgIdToken === undefined ? [] : [{ token: line.msgIdToken, printed: printed[i] ?? "" }]));
    if (pythonMissing() === undefined) {
      const python = pythonPrints(numeric.map((n) => n.token));
      const wrong = numeric.filter((n, i) => /"in_reply_to": ([^,]*),/.exec(n.printed)?.[1] !== python[i]);
      expect(wrong.slice(0, 3), `${wrong.length} of ${numeric.length} numeric msg_ids not echoed as Python prints them`).to.deep.equal([]);
    }
    for (const kind of ["call", "wrong-type", "truncated", "huge-number", "numeric-msg-id", "deep-nesting", "bad-bytes", "proto-keys", "missing-field", "oversized", "garbage"] as const) {
      expect(kinds.get(kind) ?? 0, kind).to.be.at.least(LINES >= 100_000 ? 10 : 1);
    }
  });
});
