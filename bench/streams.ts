import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Application } from "../lib/core/application.js";
import { CallKind } from "../lib/core/call-kind.js";
import { CallContext } from "../lib/core/context.js";
import { router } from "../lib/core/service.js";
import { Status } from "../lib/core/status.js";
import { createNodeApplication } from "../lib/app/node-app.js";
import { keyValueService, MemoryStore } from "../lib/key-value/key-value.js";
import { createLogger } from "../lib/logging/logger.js";
import { median } from "./measure.js";

/**
 * What a streamed message costs through bin/node's chain (logging -> auth -> rate_limit), side by
 * side with the same stream and no middleware: one `KeyValue/Scan` over a `MemoryStore` filled
 * with `messages` entries under one prefix, run in process through `app.run(ctx, send)` with a
 * `send` that only counts. The chain's work is per call (one log line, one token check, one
 * charge), so its cost per message should vanish as the stream grows.
 * - fresh: each variant in a process of its own: cold is its first Scan, warm the median of the
 *   next `warm` Scans;
 * - interleaved: both variants in one process over one store, after a Scan each, alternating
 *   (ABBA) so that a change of load on the machine hits them alike; medians.
 * Every figure covers the whole call, the scan's start included (the store picks and sorts the
 * keys under the prefix before the first message; the same for both variants, reported apart).
 *
 * `node dist/bench/streams.js [--messages N] [--rounds R]`; `npm run bench -- --streams` runs it alone.
 */

const VARIANTS = {
  none: "no middleware",
  chain: "logging -> auth -> rate_limit",
} as const;
type Variant = keyof typeof VARIANTS;

const PREFIX = "s/";
const METADATA = { authorization: "Bearer valid_token" };

/** One Scan, as measured. */
interface ScanRun {
  readonly messagesPerSec: number;
  /** CPU time (user + system) of the process over the call, per message. */
  readonly cpuNsPerMessage: number;
  /** From run() to the first message: the store picking and sorting the keys. */
  readonly firstMessageMs: number;
}

/** A store of `messages` entries under {@link PREFIX}, and how long filling it took. */
function filledStore(messages: number): { store: MemoryStore; fillMs: number } {
  const started = performance.now();
  const store = new MemoryStore();
  const width = String(messages).length;
  for (let i = 0; i < messages; i++) store.set(`${PREFIX}${String(i).padStart(width, "0")}`, `value-${i}`);
  return { store, fillMs: performance.now() - started };
}

/** The application of `variant` over `store`: bin/node's (logs to /dev/null, nothing throttled), or KeyValue alone. */
function application(variant: Variant, store: MemoryStore): Application {
  if (variant === "none") return new Application().handle(router([keyValueService(store)]));
  const { logger } = createLogger({ level: "info", destination: "/dev/null" });
  const config = { authTokens: ["valid_token"], rateLimitCapacity: 1e9, rateLimitRefillPerSecond: 1e9, trustProxy: false };
  return createNodeApplication({ config, logger, store });
}

/** One whole Scan through `app`; throws unless it ends OK with every message. */
async function scan(app: Application, messages: number): Promise<ScanRun> {
  let count = 0;
  let firstAt = 0;
  const ctx = new CallContext({ service: "KeyValue", method: "Scan", kind: CallKind.SERVER_STREAM, request: { prefix: PREFIX }, metadata: METADATA, peer: "bench" });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await app.run(ctx, () => {
    if (count++ === 0) firstAt = performance.now();
  });
  const wallMs = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  if (ctx.status !== Status.OK || count !== messages) throw new Error(`bench/streams: the Scan ended ${ctx.status} after ${count} of ${messages} messages`);
  return { messagesPerSec: messages / (wallMs / 1000), cpuNsPerMessage: ((user + system) * 1000) / messages, firstMessageMs: firstAt - started };
}

const medianRun = (runs: readonly ScanRun[]): ScanRun => ({
  messagesPerSec: median(runs.map((r) => r.messagesPerSec)),
  cpuNsPerMessage: median(runs.map((r) => r.cpuNsPerMessage)),
  firstMessageMs: median(runs.map((r) => r.firstMessageMs)),
});

/** What a fresh process measured for one variant. */
interface Fresh {
  readonly fillMs: number;
  readonly cold: ScanRun;
  readonly warm: ScanRun;
}

async function fresh(variant: Variant, messages: number, warm: number): Promise<Fresh> {
  const { store, fillMs } = filledStore(messages);
  const app = application(variant, store);
  const cold = await scan(app, messages);
  const runs: ScanRun[] = [];
  for (let i = 0; i < warm; i++) runs.push(await scan(app, messages));
  return { fillMs, cold, warm: medianRun(runs) };
}

async function interleaved(messages: number, rounds: number): Promise<Record<Variant, ScanRun>> {
  const { store } = filledStore(messages);
  const apps = { none: application("none", store), chain: application("chain", store) };
  for (const app of Object.values(apps)) await scan(app, messages); // warm-up
  const runs: Record<Variant, ScanRun[]> = { none: [], chain: [] };
  for (let round = 0; round < rounds; round++) {
    const order: Variant[] = round % 2 === 0 ? ["none", "chain"] : ["chain", "none"];
    for (const variant of order) runs[variant].push(await scan(apps[variant], messages));
  }
  return { none: medianRun(runs.none), chain: medianRun(runs.chain) };
}

/** The section's options: `messages` per Scan, `rounds` fresh processes per variant (and alternations in the interleaved one), `warm` Scans after the cold one. */
export interface StreamsOptions {
  readonly messages: number;
  readonly rounds: number;
  readonly warm: number;
}

/** The section's figures: per variant, medians over the fresh processes, and the interleaved process's. */
export interface StreamsResult {
  readonly options: StreamsOptions;
  readonly fillMs: number;
  readonly cold: Record<Variant, ScanRun>;
  readonly warm: Record<Variant, ScanRun>;
  readonly interleaved: Record<Variant, ScanRun>;
}

function child(args: readonly string[]): unknown {
  const self = fileURLToPath(import.meta.url);
  const run = spawnSync(process.execPath, [self, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 });
  if (run.status !== 0) throw new Error(`bench/streams: ${args.join(" ")} failed (exit ${run.status})`);
  return JSON.parse(run.stdout);
}

/** Runs every variant `rounds` times, alternating, each a fresh process; then the interleaved process. */
export function streamsCost(options: StreamsOptions): StreamsResult {
  const samples: Record<Variant, Fresh[]> = { none: [], chain: [] };
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      samples[variant].push(child(["--variant", variant, "--messages", String(options.messages), "--warm", String(options.warm)]) as Fresh);
    }
  }
  const together = child(["--interleaved", "--messages", String(options.messages), "--rounds", String(Math.max(4, options.rounds * 4))]) as Record<Variant, ScanRun>;
  const all = [...samples.none, ...samples.chain];
  return {
    options,
    fillMs: median(all.map((s) => s.fillMs)),
    cold: { none: medianRun(samples.none.map((s) => s.cold)), chain: medianRun(samples.chain.map((s) => s.cold)) },
    warm: { none: medianRun(samples.none.map((s) => s.warm)), chain: medianRun(samples.chain.map((s) => s.warm)) },
    interleaved: together,
  };
}

/** The section as markdown: messages/s and CPU ns per message of each variant, and the chain's cost over none. */
export function streamsMarkdown(result: StreamsResult): string {
  const { messages, rounds, warm } = result.options;
  const n = (value: number): string => Math.round(value).toLocaleString("en-US");
  const pct = (value: number, base: number): string => `${value >= base ? "+" : ""}${(((value - base) / base) * 100).toFixed(1)}%`;
  const rows = ([
    ["cold (a fresh process's first Scan)", result.cold],
    [`warm (fresh process, median of ${warm} more Scans)`, result.warm],
    ["interleaved (one process, alternating)", result.interleaved],
  ] as const).map(([label, runs]) => {
    const { none, chain } = runs;
    return `| ${label} | ${n(none.messagesPerSec)} | ${n(chain.messagesPerSec)} | ${(chain.messagesPerSec / none.messagesPerSec).toFixed(3)} | ${n(none.cpuNsPerMessage)} | ${n(chain.cpuNsPerMessage)} | ${pct(chain.cpuNsPerMessage, none.cpuNsPerMessage)} | ${n(none.firstMessageMs)} / ${n(chain.firstMessageMs)} |`;
  });
  const { none, chain } = result.interleaved;
  const cost = (chain.cpuNsPerMessage - none.cpuNsPerMessage) / none.cpuNsPerMessage;
  return [
    "## Streaming: a Scan through the middleware (in process)",
    "",
    `One \`KeyValue/Scan\` of ${messages.toLocaleString("en-US")} messages (a \`MemoryStore\` filled with as many entries under one prefix, ${n(result.fillMs)} ms to fill, not timed), run through \`app.run(ctx, send)\` with a \`send\` that only counts, with no middleware and through bin/node's chain (logging to /dev/null, auth, rate_limit with nothing throttled). Fresh: each variant in its own process, ${rounds} round(s), medians. Interleaved: both in one process over one store, alternating. CPU: user + system of the process over the call, per message. Every figure covers the whole call, the store's sorting of the keys before the first message included (last column, ms). Goal: the chain's cost per message under +10%.`,
    "",
    "| run | none, msg/s | chain, msg/s | chain / none | none, CPU ns/msg | chain, CPU ns/msg | chain vs none | first message, ms (none / chain) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `The chain's CPU cost per message over none, interleaved: ${pct(chain.cpuNsPerMessage, none.cpuNsPerMessage)} (goal under +10%: ${cost < 0.1 ? "met" : "missed"}). The fresh rows are one Scan (cold) or two (warm) per process: on a loaded machine they move by 10-15% either way from run to run; the interleaved row is the one to judge.`,
    "",
  ].join("\n");
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { variant: { type: "string" }, interleaved: { type: "boolean" }, messages: { type: "string" }, rounds: { type: "string" }, warm: { type: "string" } }, strict: true });
  const messages = Number(values.messages ?? 1_000_000);
  const rounds = Number(values.rounds ?? 1);
  const warm = Number(values.warm ?? 2);
  if (values.interleaved === true) {
    process.stdout.write(`${JSON.stringify(await interleaved(messages, rounds))}\n`);
  } else if (values.variant !== undefined) {
    if (!(values.variant in VARIANTS)) throw new Error(`--variant must be one of ${Object.keys(VARIANTS).join(", ")}`);
    process.stdout.write(`${JSON.stringify(await fresh(values.variant as Variant, messages, warm))}\n`);
  } else {
    process.stdout.write(streamsMarkdown(streamsCost({ messages, rounds, warm })));
  }
}
