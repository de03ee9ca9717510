import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { barChart } from "./chart.js";
import { jwtBench, jwtMarkdown } from "./jwt.js";
import { HAVE_GNU_TIME, median, type Program, type RunResult, runOnce, runSampled } from "./measure.js";
import { pacedLatency, timeToFirstLine } from "./paced.js";
import { haveRedisServer, type PrivateRedis, startRedis } from "./redis.js";
import { type Growth, markdown, type Results, type Row, targets } from "./report.js";
import { observabilityCost, observabilityMarkdown } from "./observability.js";
import { streamsCost, streamsMarkdown } from "./streams.js";

/**
 * `npm run bench [-- --quick]`: bin/node against the floor and the Python peer on the standard
 * workload, side by side in one run (see bench/README.md). Writes bench/results.md and
 * bench/ratios.svg (a --quick run writes under bench/out/ instead).
 */
const USAGE = `Usage: npm run bench -- [--quick] [--calls N] [--rounds R] [--skip-redis] [--skip-python] [--skip-1m] [--skip-observability] [--skip-streams] [--shared DIR] [--grpc] [--grpc-instructions] [--jwt] [--streams]`;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN_NODE = join(ROOT, "bin/node");
/** Limits so high that nothing is throttled: the benchmark measures the work, not the refusals. */
const HIGH_LIMITS = { RATE_LIMIT_CAPACITY: "1000000000", RATE_LIMIT_REFILL_PER_SEC: "1000000000", LOG_LEVEL: "info" };

/** A reason to stop the benchmark: printed without a stack trace, exit code 2. */
class BenchError extends Error {
  override readonly name = "BenchError";
}
function fail(message: string): never {
  throw new BenchError(message);
}
const say = (text: string): void => void process.stderr.write(`${text}\n`);

function options() {
  let values;
  try {
    values = parseArgs({
      options: {
        quick: { type: "boolean", default: false },
        calls: { type: "string" },
        rounds: { type: "string" },
        "skip-redis": { type: "boolean", default: false },
        "skip-python": { type: "boolean", default: false },
        "skip-1m": { type: "boolean", default: false },
        "skip-observability": { type: "boolean", default: false },
        "skip-streams": { type: "boolean", default: false },
        shared: { type: "string" },
        grpc: { type: "boolean", default: false },
        "grpc-instructions": { type: "boolean", default: false },
        jwt: { type: "boolean", default: false },
        streams: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  if (values.help) fail(USAGE);
  const quick = values.quick === true;
  const int = (raw: string | undefined, fallback: number, name: string): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) fail(`--${name} must be an integer >= 1, got ${raw}`);
    return n;
  };
  const shared = resolve(values.shared ?? process.env["BENCH_SHARED"] ?? join(ROOT, "../shared"));
  return {
    quick,
    calls: int(values.calls, quick ? 20_000 : 200_000, "calls"),
    rounds: int(values.rounds, quick ? 3 : 5, "rounds"),
    redis: !values["skip-redis"],
    python: !values["skip-python"],
    million: !quick && !values["skip-1m"],
    observability: !values["skip-observability"],
    streams: !values["skip-streams"],
    /** Run only the streaming section (bench/streams.ts). */
    streamsOnly: values.streams === true,
    shared,
    startupReps: quick ? 5 : 15,
    latencyCalls: quick ? 5_000 : 25_000,
    ratePerSec: 5_000,
    /** Run only the JWT section (bench/jwt.ts). */
    jwtOnly: values.jwt === true,
    argv: process.argv.slice(2),
    grpc: values.grpc === true,
    /** Run only the gRPC instruction counts (bench/grpc-instructions.ts, under valgrind). */
    grpcInstructions: values["grpc-instructions"] === true,
  };
}

function generate(gen: string, calls: number, file: string): void {
  const out = openSync(file, "w");
  const result = spawnSync(process.execPath, [gen, String(calls)], { stdio: ["ignore", out, "inherit"] });
  closeSync(out);
  if (result.status !== 0) fail(`${gen} ${calls} failed (exit ${result.status})`);
}

function pythonExecutable(): { path: string; version: string } | undefined {
  // The real interpreter, not a pyenv shim: a shim adds ~50 ms of shell to every run.
  const found = spawnSync("python3", ["-c", "import sys; print(sys.executable); print(sys.version.split()[0])"], { encoding: "utf8" });
  if (found.status !== 0) return undefined;
  const [path, version] = found.stdout.trim().split("\n");
  return path && version ? { path, version: `Python ${version}` } : undefined;
}

function gitCommit(): string {
  const rev = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout.trim() || "unknown";
  // The previous run's results.md and ratios.svg do not make the code under test uncommitted.
  const status = spawnSync("git", ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results.md", ":!bench/ratios.svg"], { cwd: ROOT, encoding: "utf8" });
  const dirty = status.stdout.trim() !== "";
  return dirty ? `${rev}+uncommitted changes` : rev;
}

interface Contender {
  readonly key: Row["key"];
  readonly label: string;
  readonly program: Program;
  readonly before?: () => Promise<void>;
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.grpc) {
    // The gRPC section alone (bench/grpc.ts): its own servers and load, written to bench/out/grpc.md.
    const { grpcBench, DEFAULT_GRPC } = await import("./grpc.js");
    process.stdout.write(await grpcBench(DEFAULT_GRPC, say));
    return;
  }
  if (opts.grpcInstructions) {
    const { grpcInstructions } = await import("./grpc-instructions.js");
    const out = join(ROOT, "bench/out");
    mkdirSync(out, { recursive: true });
    const text = await grpcInstructions(out, say);
    writeFileSync(join(out, "grpc-instructions.md"), text);
    process.stdout.write(text);
    return;
  }
  if (opts.jwtOnly) {
    process.stdout.write(await jwtSection(opts.quick));
    return;
  }
  if (opts.streamsOnly) {
    const text = streamsSection(opts.quick);
    mkdirSync(join(ROOT, "bench/out"), { recursive: true });
    writeFileSync(join(ROOT, "bench/out/streams.md"), text);
    process.stdout.write(text);
    say("bench: wrote bench/out/streams.md");
    return;
  }
  const gen = join(opts.shared, "bench/gen.js");
  const floorScript = join(opts.shared, "bench/floor-batched.js");
  const peerScript = join(opts.shared, "bench/peer_python.py");
  if (!existsSync(gen) || !existsSync(floorScript)) {
    fail(`cannot find the reference programs: looked for ${gen} and ${floorScript} (../shared next to the repository root); pass --shared DIR or set BENCH_SHARED`);
  }
  if (!existsSync(join(ROOT, "dist/bin/node.js"))) fail("dist/bin/node.js is missing: run 'npm run build' first");
  // The memory row must not pick up a Redis from the caller's environment.
  delete process.env["REDIS_URL"];

  const tmp = mkdtempSync(join(tmpdir(), "rpc-bench-"));
  let redis: PrivateRedis | undefined;
  let keep = false;
  try {
    const workload = join(tmp, "workload.jsonl");
    say(`bench: generating ${opts.calls} calls -> ${workload}`);
    generate(gen, opts.calls, workload);
    const notes: string[] = [];
    if (!HAVE_GNU_TIME) notes.push("/usr/bin/time is not available; peak RSS was polled from /proc (VmHWM every 10 ms).");

    const contenders: Contender[] = [
      { key: "memory", label: "bin/node (memory limiter)", program: { command: BIN_NODE, args: [], env: HIGH_LIMITS } },
    ];
    // What metrics() costs a whole call in a host: the same node serving Prometheus /metrics.
    if (opts.observability) contenders.push({ key: "metrics", label: "bin/node (memory) --metrics-listen", program: { command: BIN_NODE, args: ["--metrics-listen", "127.0.0.1:0"], env: HIGH_LIMITS } });
    if (opts.redis) {
      const help = spawnSync(BIN_NODE, ["--help"], { encoding: "utf8" }).stdout;
      if (!help.includes("REDIS_URL")) {
        notes.push("bin/node (Redis limiter) skipped: this build of bin/node does not support REDIS_URL (its --help does not mention it).");
      } else if (!haveRedisServer()) {
        notes.push("bin/node (Redis limiter) skipped: no redis-server on the PATH.");
      } else {
        redis = await startRedis();
        const server = redis;
        say(`bench: private redis-server at ${server.url}`);
        contenders.push({ key: "redis", label: "bin/node (Redis limiter)", program: { command: BIN_NODE, args: [], env: { ...HIGH_LIMITS, REDIS_URL: server.url } }, before: () => server.flush() });
      }
    } else notes.push("bin/node (Redis limiter) skipped: --skip-redis.");
    contenders.push({ key: "floor", label: "floor-batched.js (the floor)", program: { command: process.execPath, args: [floorScript] } });
    contenders.push({ key: "floorLogged", label: "floor + a pino line per call (reference)", program: { command: process.execPath, args: [join(ROOT, "dist/bench/floor-logged.js")], env: { LOG_LEVEL: "info" } } });
    const python = opts.python ? pythonExecutable() : undefined;
    if (python && existsSync(peerScript)) {
      contenders.push({ key: "python", label: "peer_python.py (Python peer)", program: { command: python.path, args: [peerScript, "1000000000", "1000000000"] } });
    } else notes.push(opts.python ? "Python peer skipped: no python3 (or no peer_python.py)." : "Python peer skipped: --skip-python.");

    const runs = new Map<Row["key"], RunResult[]>(contenders.map((c) => [c.key, []]));
    // A run of the init line alone: what a process costs before any call, taken off the
    // metered node and the plain one to compare their cost per call.
    const initOnly = join(tmp, "init.jsonl");
    writeFileSync(initOnly, `${readFileSync(workload, "utf8").split("\n", 1)[0]}\n`);
    const startCpus = new Map<Row["key"], number[]>();
    let redisCommands = 0;
    for (let round = 1; round <= opts.rounds; round++) {
      for (const c of contenders) {
        await c.before?.();
        const commandsBefore = c.key === "redis" ? await redis?.commands() : undefined;
        const result = await runOnce(c.program, workload, join(tmp, `${c.key}.out`), join(tmp, `${c.key}.log`));
        if (result.exitCode !== 0 || result.lines !== opts.calls + 1) {
          keep = true;
          fail(`${c.label} round ${round}: exit ${result.exitCode}, ${result.lines} output lines, expected exit 0 and ${opts.calls + 1} lines; see ${tmp}/${c.key}.log (kept)`);
        }
        runs.get(c.key)?.push(result);
        if (c.key === "metrics" || (c.key === "memory" && contenders.some((other) => other.key === "metrics"))) {
          const started = await runOnce(c.program, initOnly, join(tmp, `${c.key}.init.out`), join(tmp, `${c.key}.init.log`));
          if (started.exitCode !== 0 || started.lines !== 1) fail(`${c.label} on the init line alone: exit ${started.exitCode}, ${started.lines} output lines, expected exit 0 and 1 line`);
          startCpus.set(c.key, [...(startCpus.get(c.key) ?? []), started.cpuMs]);
        }
        if (commandsBefore !== undefined && redis !== undefined) redisCommands = Math.max(redisCommands, (await redis.commands()) - commandsBefore - 1);
        say(`bench: round ${round}/${opts.rounds} ${c.label.padEnd(30)} ${(result.wallMs / 1000).toFixed(3)} s  ${(result.peakRssKb / 1024).toFixed(1)} MB  cpu ${(result.cpuMs / 1000).toFixed(3)} s`);
      }
    }
    if (redis !== undefined && redisCommands < opts.calls / 100) {
      notes.push(`bin/node (Redis limiter): its --help mentions REDIS_URL, but the private Redis processed ${redisCommands} commands during a run of ${opts.calls} calls, so this row measured a node that did not use Redis.`);
    } else if (redis !== undefined) {
      notes.push(`bin/node (Redis limiter): the private Redis processed up to ${redisCommands.toLocaleString("en-US")} commands per run of ${opts.calls.toLocaleString("en-US")} calls.`);
    }
    if (contenders.some((c) => c.key === "metrics")) {
      // The metered node names metrics() first in every reply's interceptors_applied; the rest must be the same bytes.
      const replies = readFileSync(join(tmp, "metrics.out"), "utf8").replaceAll('"interceptors_applied": ["metrics", ', '"interceptors_applied": [');
      const same = createHash("sha256").update(replies).digest("hex") === runs.get("memory")?.[0]?.sha256;
      notes.push(`bin/node --metrics-listen printed ${same ? "the same bytes as" : "DIFFERENT bytes from"} bin/node without it, but for "metrics" first in every interceptors_applied.`);
    }
    const rows: Row[] = contenders.map((c) => {
      const list = runs.get(c.key) ?? [];
      const wallMs = median(list.map((r) => r.wallMs));
      return {
        key: c.key,
        label: c.label,
        runs: list.length,
        wallMs,
        callsPerSec: opts.calls / (wallMs / 1000),
        peakRssKb: median(list.map((r) => r.peakRssKb)),
        cpuMs: median(list.map((r) => r.cpuMs)),
        wallsMs: list.map((r) => r.wallMs),
        cpusMs: list.map((r) => r.cpuMs),
        startCpusMs: startCpus.get(c.key) ?? [],
        sha256: list[0]?.sha256 ?? "",
      };
    });

    say("bench: startup to the first line");
    const bare: Program = { command: process.execPath, args: ["-e", "process.stdout.write('ready\\n')"] };
    const memoryProgram = contenders[0]?.program as Program;
    const init = readFileSync(workload, "utf8").split("\n", 1)[0] as string;
    const nodeMs: number[] = [];
    const bareMs: number[] = [];
    for (let i = 0; i < opts.startupReps; i++) {
      nodeMs.push(await timeToFirstLine(memoryProgram, init));
      bareMs.push(await timeToFirstLine(bare, undefined));
    }

    say(`bench: latency at ${opts.ratePerSec} calls/s`);
    const callLines = readFileSync(workload, "utf8").split("\n", opts.latencyCalls + 1).slice(1);
    const latency = [];
    for (const c of contenders) {
      await c.before?.();
      // Python block-buffers a piped stdout: unbuffered, as a node talking to a test runner must be.
      const program = c.key === "python" ? { ...c.program, env: { PYTHONUNBUFFERED: "1" } } : c.program;
      latency.push({ label: c.label, ...(await pacedLatency(program, init, callLines, opts.ratePerSec, join(tmp, `${c.key}.paced.log`))) });
    }

    const growth: Growth[] = [];
    if (opts.million) {
      const big = join(tmp, "workload-1m.jsonl");
      say("bench: generating 1,000,000 calls for the memory-growth run");
      generate(gen, 1_000_000, big);
      for (const c of contenders.filter((candidate) => candidate.key === "memory" || candidate.key === "floor")) {
        const run = await runSampled(c.program, big, join(tmp, `${c.key}.1m.out`), join(tmp, `${c.key}.1m.log`));
        if (run.exitCode !== 0 || run.lines !== 1_000_001) fail(`${c.label} (1M calls): exit ${run.exitCode}, ${run.lines} lines, expected 1000001`);
        const at = (fraction: number): number => {
          const t = run.wallMs * fraction;
          let best = Number.NaN;
          for (const [ms, kb] of run.samples) if (ms <= t) best = kb;
          return best;
        };
        const half = run.wallMs / 2;
        const peakOf = (samples: readonly (readonly [number, number])[]): number => Math.max(...samples.map(([, kb]) => kb));
        growth.push({
          label: c.label,
          calls: 1_000_000,
          wallMs: run.wallMs,
          peakRssKb: run.peakRssKb,
          rssAtKb: [at(0.25), at(0.5), at(0.75), at(1)],
          firstHalfPeakKb: peakOf(run.samples.filter(([ms]) => ms <= half)),
          secondHalfPeakKb: peakOf(run.samples.filter(([ms]) => ms > half)),
        });
        say(`bench: 1M ${c.label.padEnd(30)} ${(run.wallMs / 1000).toFixed(2)} s  peak ${(run.peakRssKb / 1024).toFixed(1)} MB`);
      }
      rmSync(big, { force: true });
    }

    const results: Results = {
      quick: opts.quick,
      date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
      commit: gitCommit(),
      machine: `${cpus().length} x ${cpus()[0]?.model.trim() ?? "unknown CPU"}`,
      node: process.version,
      python: python?.version,
      calls: opts.calls,
      rounds: opts.rounds,
      command: ["npm run bench", ...(opts.argv.length > 0 ? ["--", ...opts.argv] : [])].join(" "),
      rows,
      notes,
      startup: { reps: opts.startupReps, nodeMs: median(nodeMs), bareMs: median(bareMs) },
      latency,
      growth,
    };
    // In-process cost of tracing() and metrics() per call (bench/observability.ts), appended as a section.
    const observabilityOptions = { calls: opts.quick ? 20_000 : 100_000, rounds: opts.quick ? 3 : 5 };
    if (opts.observability) say("bench: observability middleware, in process");
    const observability = opts.observability ? observabilityMarkdown(observabilityCost(observabilityOptions), observabilityOptions) : "";
    const streams = opts.streams ? streamsSection(opts.quick) : "";
    const outDir = opts.quick ? join(ROOT, "bench/out") : join(ROOT, "bench");
    mkdirSync(join(ROOT, "bench/out"), { recursive: true });
    const suffix = opts.quick ? "-quick" : "";
    const chartFile = join(outDir, `ratios${suffix}.svg`);
    const reportFile = join(outDir, `results${suffix}.md`);
    writeFileSync(chartFile, chart(results));
    writeFileSync(reportFile, markdown(results, relative(outDir, chartFile)) + observability + "\n" + (await jwtSection(opts.quick)) + (streams === "" ? "" : "\n" + streams));
    writeFileSync(join(ROOT, `bench/out/results${suffix}.json`), JSON.stringify(results, null, 2) + "\n");
    process.stdout.write(markdown(results, relative(outDir, chartFile)) + observability + streams);
    say(`bench: wrote ${relative(ROOT, reportFile)} and ${relative(ROOT, chartFile)}`);
    if (targets(results).some((t) => t.met === false)) say("bench: some targets were missed (see the Targets table)");
  } finally {
    await redis?.stop();
    if (!keep) rmSync(tmp, { recursive: true, force: true });
  }
}

/** The streaming section (bench/streams.ts): a Scan of 1,000,000 messages (quick: 200,000), each variant in a fresh process and both in one. */
function streamsSection(quick: boolean): string {
  say("bench: streaming, a Scan through the middleware, in process");
  return streamsMarkdown(streamsCost({ messages: quick ? 200_000 : 1_000_000, rounds: 1, warm: 2 }));
}

/** The JWT section's table (bench/jwt.ts): 20,000 calls a round, 5 rounds (quick: 5,000 and 3). */
async function jwtSection(quick: boolean): Promise<string> {
  const [calls, rounds] = quick ? [5_000, 3] : [20_000, 5];
  const text = jwtMarkdown(await jwtBench(calls, rounds), calls, rounds);
  say(text);
  return text;
}

function chart(r: Results): string {
  const floor = r.rows.find((row) => row.key === "floor");
  const others = r.rows.filter((row) => row.key !== "floor");
  const ratio = (a: number, b: number | undefined): number => (b === undefined ? Number.NaN : a / b);
  return barChart(`Ratio to floor-batched.js, ${r.calls.toLocaleString("en-US")} calls (medians of ${r.rounds} rounds; lower is better)`, [
    { title: "Wall time / floor", target: 2, bars: others.map((row) => ({ label: row.label, value: ratio(row.wallMs, floor?.wallMs), judged: row.key === "memory" || row.key === "redis" })) },
    { title: "Peak RSS / floor", target: 1.5, bars: others.map((row) => ({ label: row.label, value: ratio(row.peakRssKb, floor?.peakRssKb), judged: row.key === "memory" || row.key === "redis" })) },
    { title: "Startup to init_ok / bare node script", target: 2, bars: [{ label: "bin/node", value: r.startup.nodeMs / r.startup.bareMs }] },
  ]);
}

try {
  await main();
} catch (error) {
  if (!(error instanceof BenchError)) throw error;
  process.stderr.write(`bench: ${error.message}\n`);
  process.exitCode = 2;
}
