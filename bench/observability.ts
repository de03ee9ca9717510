import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CallContext } from "../lib/core/context.js";
import type { Middleware } from "../lib/core/middleware.js";
import { createNodeApplication } from "../lib/app/node-app.js";
import { createLogger } from "../lib/logging/logger.js";
import { median } from "./measure.js";

/**
 * The cost of `tracing()` and `metrics()` per call, side by side with the plain pipeline
 * (bin/node's chain, logging -> auth -> rate_limit -> KeyValue, in process, logs to /dev/null).
 * Each variant runs in a process of its own, because registering an SDK changes the whole
 * process (its AsyncLocalStorage context manager):
 * - load: importing the middleware (and the SDK) and building the application, ms;
 * - cold: the first 1,000 calls after that, ms;
 * - warm: CPU µs per call over `calls` calls after as many warm-up calls;
 * - interleaved: the variants without an SDK in one process, alternating in chunks, each
 *   compared with the plain pipeline's chunk of its round.
 *
 * `node dist/bench/observability.js [--calls N] [--rounds R]`; `npm run bench` runs it as a section.
 */

/** The variants, each a set of middleware put before the node's chain. */
const VARIANTS = {
  plain: "plain pipeline",
  "tracing-api": "+ tracing(), no SDK (API no-op)",
  "sdk-only": "SDK registered, no tracing() (its AsyncLocalStorage alone)",
  "tracing-sdk": "+ tracing(), SDK with a no-op span processor",
  metrics: "+ metrics()",
} as const;
type Variant = keyof typeof VARIANTS;

const COLD_CALLS = 1000;
const METADATA = { authorization: "Bearer valid_token" };

/** bin/node's application with `observability` in front, and a runner of `n` more calls through it. */
function pipeline(observability: Middleware[]): (n: number) => Promise<void> {
  const { logger } = createLogger({ level: "info", destination: "/dev/null" });
  const config = { authTokens: ["valid_token"], rateLimitCapacity: 1e9, rateLimitRefillPerSecond: 1e9, trustProxy: false };
  const app = createNodeApplication({ config, logger, observability });
  let i = 0;
  return async (n) => {
    for (const end = i + n; i < end; i++) {
      const method = i % 2 === 0 ? "Put" : "Get";
      const request = { key: `k${i % 100}`, value: "v" };
      await app.run(new CallContext({ service: "KeyValue", method, request, metadata: METADATA, peer: `c${i % 10}` }));
    }
  };
}

/** CPU µs per call of `n` calls through `run`: CPU time is steadier than wall time on a shared machine. */
async function cpuUsPerCall(run: (n: number) => Promise<void>, n: number): Promise<number> {
  const before = process.cpuUsage();
  await run(n);
  const { user, system } = process.cpuUsage(before);
  return (user + system) / n;
}

/** One process's measurement: the cold calls, then the warm ones. */
async function measure(variant: Variant, calls: number): Promise<Measured> {
  const started = performance.now();
  const observability: Middleware[] = [];
  if (variant === "tracing-sdk" || variant === "sdk-only") {
    const { NodeTracerProvider, NoopSpanProcessor } = await import("@opentelemetry/sdk-trace-node");
    new NodeTracerProvider({ spanProcessors: [new NoopSpanProcessor()] }).register();
  }
  if (variant === "tracing-api" || variant === "tracing-sdk") observability.push((await import("../middleware/tracing.js")).tracing() as unknown as Middleware);
  if (variant === "metrics") observability.push((await import("../middleware/metrics.js")).metrics() as unknown as Middleware);
  const run = pipeline(observability);
  const loadMs = performance.now() - started;
  const coldStart = performance.now();
  await run(COLD_CALLS);
  const coldMs = performance.now() - coldStart;
  await run(calls); // warm-up
  return { loadMs, coldMs, warmUsPerCall: await cpuUsPerCall(run, calls) };
}

/** The variants measured together in one process (no SDK: they leave the process as it is). */
const TOGETHER = ["plain", "tracing-api", "metrics"] as const;
type Together = (typeof TOGETHER)[number];

/** One interleaved process: each variant's median CPU µs per call, and its median ratio to plain. */
interface Interleaved {
  readonly usPerCall: Record<Together, number>;
  readonly vsPlain: Record<Together, number>;
}

/**
 * The variants that leave the process as it is (no SDK), measured in one process in short
 * alternating chunks, the order turning each round, so that a change of load on the machine
 * hits them alike. Each round's chunk of a variant is compared with the same round's plain
 * chunk: the median of those ratios is the overhead (steadier than the ratio of two medians,
 * as the load drifts), beside the median CPU µs per call of each.
 */
async function interleaved(calls: number): Promise<Interleaved> {
  const { tracing } = await import("../middleware/tracing.js");
  const { metrics } = await import("../middleware/metrics.js");
  const runs: Record<Together, (n: number) => Promise<void>> = {
    plain: pipeline([]),
    "tracing-api": pipeline([tracing() as unknown as Middleware]),
    metrics: pipeline([metrics() as unknown as Middleware]),
  };
  const chunk = 2000;
  for (const name of TOGETHER) await runs[name](calls); // warm-up
  const samples: Record<Together, number[]> = { plain: [], "tracing-api": [], metrics: [] };
  const ratios: Record<Together, number[]> = { plain: [], "tracing-api": [], metrics: [] };
  for (let round = 0; round * chunk < calls; round++) {
    const order = round % 2 === 0 ? TOGETHER : [...TOGETHER].reverse();
    const rotated = [...order.slice(round % 3), ...order.slice(0, round % 3)];
    const us: Partial<Record<Together, number>> = {};
    for (const name of rotated) us[name] = await cpuUsPerCall(runs[name], chunk);
    for (const name of TOGETHER) {
      samples[name].push(us[name] as number);
      ratios[name].push((us[name] as number) / (us.plain as number));
    }
  }
  const medians = (of: Record<Together, number[]>): Record<Together, number> => ({ plain: median(of.plain), "tracing-api": median(of["tracing-api"]), metrics: median(of.metrics) });
  return { usPerCall: medians(samples), vsPlain: medians(ratios) };
}

/** What one process measured. */
interface Measured {
  /** Loading the middleware (and the SDK) and building the application, ms. */
  readonly loadMs: number;
  /** The first calls, ms. */
  readonly coldMs: number;
  readonly warmUsPerCall: number;
}

/** A row of the section: medians over the rounds. */
export interface ObservabilityRow extends Measured {
  readonly variant: string;
  /** CPU µs per call measured in one process, alternating with the plain pipeline; only for the variants without an SDK. */
  readonly interleavedUsPerCall: number | undefined;
  /** The same, as a ratio to the plain pipeline's chunk of the same round (median over rounds and processes). */
  readonly interleavedVsPlain: number | undefined;
}

/** Runs every variant `rounds` times, interleaved, each run a fresh process; returns the medians. */
export function observabilityCost(options: { calls: number; rounds: number }): ObservabilityRow[] {
  const self = fileURLToPath(import.meta.url);
  const samples = new Map<Variant, Measured[]>();
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      const child = spawnSync(process.execPath, [self, "--variant", variant, "--calls", String(options.calls)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      if (child.status !== 0) throw new Error(`bench/observability: the ${variant} run failed (exit ${child.status})`);
      samples.set(variant, [...(samples.get(variant) ?? []), JSON.parse(child.stdout) as Measured]);
    }
  }
  const together: Interleaved[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const child = spawnSync(process.execPath, [self, "--interleaved", "--calls", String(options.calls)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (child.status !== 0) throw new Error(`bench/observability: the interleaved run failed (exit ${child.status})`);
    together.push(JSON.parse(child.stdout) as Interleaved);
  }
  return (Object.keys(VARIANTS) as Variant[]).map((variant) => {
    const runs = samples.get(variant) ?? [];
    const measuredTogether = (TOGETHER as readonly string[]).includes(variant);
    const interleavedUsPerCall = measuredTogether ? median(together.map((r) => r.usPerCall[variant as Together])) : undefined;
    const interleavedVsPlain = measuredTogether ? median(together.map((r) => r.vsPlain[variant as Together])) : undefined;
    return { variant: VARIANTS[variant], interleavedUsPerCall, interleavedVsPlain, loadMs: median(runs.map((r) => r.loadMs)), coldMs: median(runs.map((r) => r.coldMs)), warmUsPerCall: median(runs.map((r) => r.warmUsPerCall)) };
  });
}

/** The section as markdown: each variant's cost and its overhead over the plain pipeline. */
export function observabilityMarkdown(rows: readonly ObservabilityRow[], options: { calls: number; rounds: number }): string {
  const plain = rows[0];
  const pct = (value: number, base: number | undefined): string => (base === undefined || rows[0] === undefined ? "" : `${value === base ? "" : value > base ? "+" : ""}${(((value - base) / base) * 100).toFixed(1)}%`);
  const lines = [
    "## Observability middleware, per call (in process)",
    "",
    `bin/node's chain run in process (logs to /dev/null), each variant in a fresh process; medians of ${options.rounds} rounds. Load: importing the middleware (and the SDK) and building the application. Cold: the first ${COLD_CALLS.toLocaleString("en-US")} calls after that. Warm: CPU µs (user + system) per call over ${options.calls.toLocaleString("en-US")} calls after as many warm-up calls. Interleaved: the variants without an SDK in one process, alternating in chunks of 2,000 calls, the order turning each round, so that load from elsewhere on the machine hits them alike; "vs plain" is the median over rounds and processes of each chunk's ratio to the plain chunk of its round. Goal: each under +10%.`,
    "",
    "| pipeline | load, ms | cold, ms | vs plain | warm, CPU µs/call | vs plain | interleaved, CPU µs/call | vs plain |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((row) => {
      const overhead = row.interleavedVsPlain === undefined || row === plain ? "" : `${row.interleavedVsPlain >= 1 ? "+" : ""}${((row.interleavedVsPlain - 1) * 100).toFixed(1)}%`;
      const together = row.interleavedUsPerCall === undefined ? "| | " : `| ${row.interleavedUsPerCall.toFixed(2)} | ${overhead} `;
      return `| ${row.variant} | ${row.loadMs.toFixed(1)} | ${row.coldMs.toFixed(1)} | ${row === plain ? "" : pct(row.coldMs, plain?.coldMs)} | ${row.warmUsPerCall.toFixed(2)} | ${row === plain ? "" : pct(row.warmUsPerCall, plain?.warmUsPerCall)} ${together}|`;
    }),
    "",
  ];
  return lines.join("\n");
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { variant: { type: "string" }, interleaved: { type: "boolean" }, calls: { type: "string" }, rounds: { type: "string" } }, strict: true });
  const calls = Number(values.calls ?? 50_000);
  if (values.interleaved === true) {
    process.stdout.write(`${JSON.stringify(await interleaved(calls))}\n`);
  } else if (values.variant !== undefined) {
    if (!(values.variant in VARIANTS)) throw new Error(`--variant must be one of ${Object.keys(VARIANTS).join(", ")}`);
    process.stdout.write(`${JSON.stringify(await measure(values.variant as Variant, calls))}\n`);
  } else {
    const options = { calls, rounds: Number(values.rounds ?? 3) };
    process.stdout.write(observabilityMarkdown(observabilityCost(options), options));
  }
}
