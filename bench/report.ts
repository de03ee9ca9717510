import type { Latency } from "./paced.js";
import { median } from "./measure.js";

/** The medians of one program's throughput runs. */
export interface Row {
  readonly key: "memory" | "metrics" | "redis" | "floor" | "floorLogged" | "python";
  readonly label: string;
  readonly runs: number;
  readonly wallMs: number;
  readonly callsPerSec: number;
  readonly peakRssKb: number;
  /** Median user + system CPU time, ms. */
  readonly cpuMs: number;
  /** Every run's wall time, in run order, for the raw record. */
  readonly wallsMs: readonly number[];
  /** Every run's CPU time, in run order. */
  readonly cpusMs: readonly number[];
  /** For the rows compared per call: the CPU time of a run of the init line alone, each round's. */
  readonly startCpusMs: readonly number[];
  readonly sha256: string;
}

/** Growth of RSS with the number of calls. */
export interface Growth {
  readonly label: string;
  readonly calls: number;
  readonly wallMs: number;
  readonly peakRssKb: number;
  /** RSS at 25%, 50%, 75% of the run and the last sample, KiB. */
  readonly rssAtKb: readonly number[];
  /** Highest RSS sampled in the first and in the second half of the run, KiB. */
  readonly firstHalfPeakKb: number;
  readonly secondHalfPeakKb: number;
}

/** Everything one `npm run bench` measured. */
export interface Results {
  readonly quick: boolean;
  readonly date: string;
  readonly commit: string;
  readonly machine: string;
  readonly node: string;
  readonly python: string | undefined;
  readonly calls: number;
  readonly rounds: number;
  readonly command: string;
  readonly rows: readonly Row[];
  readonly notes: readonly string[];
  readonly startup: { readonly reps: number; readonly nodeMs: number; readonly bareMs: number };
  readonly latency: readonly (Latency & { readonly label: string })[];
  readonly growth: readonly Growth[];
}

const mb = (kb: number): string => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : "n/a");
const x = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}x` : "n/a");
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 0) : "n/a");

/** A target row: what was asked, what was measured, whether it was met. */
export interface Target {
  readonly what: string;
  readonly limit: string;
  readonly measured: string;
  /** undefined: not measured in this run. */
  readonly met: boolean | undefined;
}

/** The performance targets, judged on these results. */
export function targets(r: Results): Target[] {
  const row = (key: Row["key"]): Row | undefined => r.rows.find((candidate) => candidate.key === key);
  const floor = row("floor");
  const memory = row("memory");
  const redis = row("redis");
  const python = row("python");
  const out: Target[] = [];
  const judge = (what: string, limit: string, value: number | undefined, ok: (v: number) => boolean, show = x): void => {
    out.push({ what, limit, measured: value === undefined ? "not measured" : show(value), met: value === undefined ? undefined : ok(value) });
  };
  judge("bin/node (memory) wall time / floor", "<= 2.00x", memory && floor ? memory.wallMs / floor.wallMs : undefined, (v) => v <= 2);
  judge("Python peer wall time / bin/node (memory)", "> 3.00x", memory && python ? python.wallMs / memory.wallMs : undefined, (v) => v > 3);
  judge("bin/node (Redis) wall time / bin/node (memory)", "<= 2.00x", memory && redis ? redis.wallMs / memory.wallMs : undefined, (v) => v <= 2);
  judge("bin/node (memory) peak RSS / floor", "<= 1.50x", memory && floor ? memory.peakRssKb / floor.peakRssKb : undefined, (v) => v <= 1.5);
  const grown = r.growth.find((g) => g.label.startsWith("bin/node"));
  judge(
    `bin/node RSS flat over ${grown?.calls.toLocaleString("en-US") ?? "1,000,000"} calls: peak in the 2nd half / peak in the 1st half`,
    "<= 1.10x",
    grown ? grown.secondHalfPeakKb / grown.firstHalfPeakKb : undefined,
    (v) => v <= 1.1,
  );
  judge("startup to init_ok / bare node script", "<= 2.00x", r.startup.reps > 0 ? r.startup.nodeMs / r.startup.bareMs : undefined, (v) => v <= 2);
  return out;
}

/** bench/results.md. */
export function markdown(r: Results, chartFile: string): string {
  const floor = r.rows.find((row) => row.key === "floor");
  const lines: string[] = [];
  lines.push(`# Benchmark results${r.quick ? " (quick smoke run: small workload, not the reference figures)" : ""}`, "");
  lines.push(`Measured ${r.date} at commit \`${r.commit}\` on ${r.machine}; Node ${r.node}${r.python ? `, ${r.python}` : ""}.`);
  lines.push(`Workload: \`node ../shared/bench/gen.js ${r.calls}\` (init + ${r.calls.toLocaleString("en-US")} authenticated calls, 1,000 clients, half Put, half Get); ${r.rounds} rounds, programs alternating, medians.`);
  lines.push(`Reproduce: \`${r.command}\`.`, "");
  lines.push(`![ratios to the floor](${chartFile})`, "");
  lines.push("## Throughput (stdin file -> stdout file, logs at info to a file)", "");
  lines.push("| program | wall s (median) | calls/s | peak RSS MB | CPU s (user+sys) | wall / floor | RSS / floor | CPU / floor |");
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of r.rows) {
    const ratio = (a: number, b: number | undefined): string => x(b === undefined ? Number.NaN : a / b);
    const cpu = Number.isFinite(row.cpuMs) ? (row.cpuMs / 1000).toFixed(3) : "n/a";
    lines.push(
      `| ${row.label} | ${(row.wallMs / 1000).toFixed(3)} | ${Math.round(row.callsPerSec).toLocaleString("en-US")} | ${mb(row.peakRssKb)} | ${cpu} | ` +
        `${ratio(row.wallMs, floor?.wallMs)} | ${ratio(row.peakRssKb, floor?.peakRssKb)} | ${ratio(row.cpuMs, floor?.cpuMs)} |`,
    );
  }
  lines.push("", "Wall time is what the targets are about; CPU time (from GNU time) is steadier when other work shares the machine, and shows where a wall-time ratio comes from.");
  lines.push("", "Every run's output was checked: exit code 0 and exactly calls + 1 lines (a fast wrong answer is not a result).");
  const python = r.rows.find((row) => row.key === "python");
  const memory = r.rows.find((row) => row.key === "memory");
  const redis = r.rows.find((row) => row.key === "redis");
  if (memory && python) lines.push(`bin/node's output is ${memory.sha256 === python.sha256 ? "byte-identical to" : "DIFFERENT from"} the Python peer's (SHA-256 of stdout).`);
  if (memory && redis) lines.push(`bin/node with Redis printed ${memory.sha256 === redis.sha256 ? "the same bytes as" : "DIFFERENT bytes from"} the memory path.`);
  const metered = r.rows.find((row) => row.key === "metrics");
  if (memory && metered) {
    // CPU µs per call of round i: the run less the same round's run of the init line alone.
    // Rounds alternate the programs, so the i-th runs of two rows shared the machine's load.
    const perCall = (row: Row): number[] => row.cpusMs.map((cpu, i) => ((cpu - (row.startCpusMs[i] ?? Number.NaN)) * 1000) / r.calls);
    const [plainUs, meteredUs] = [perCall(memory), perCall(metered)];
    const ratios = meteredUs.map((us, i) => us / (plainUs[i] ?? Number.NaN));
    const ratio = median(ratios);
    const pct = (r: number): string => `${r >= 1 ? "+" : ""}${((r - 1) * 100).toFixed(1)}%`;
    lines.push(
      "",
      `bin/node with \`--metrics-listen\` (metrics() in front of the chain, prom-client's process metrics, the /metrics server): ` +
        `${median(meteredUs).toFixed(2)} CPU µs per call against ${median(plainUs).toFixed(2)} without, ${pct(ratio)} (median of the rounds' ratios, which ran from ${pct(Math.min(...ratios))} to ${pct(Math.max(...ratios))}); ` +
        `each round's run of the init line alone (start-up: ${ms(median(metered.startCpusMs))} ms of CPU against ${ms(median(memory.startCpusMs))} ms) taken off.`,
    );
  }
  const logged = r.rows.find((row) => row.key === "floorLogged");
  if (memory && logged && floor) {
    lines.push(
      "",
      `The floor plus one pino line per call (\`bench/floor-logged.ts\`, a reference, not a target) takes ${x(logged.wallMs / floor.wallMs)} the floor's wall time ` +
        `(${x(logged.cpuMs / floor.cpuMs)} its CPU time): that much of the budget goes to the log line bin/node must write per call. ` +
        `bin/node takes ${x(memory.wallMs / logged.wallMs)} the wall time of that logged floor (${x(memory.cpuMs / logged.cpuMs)} its CPU time).`,
    );
  }
  for (const note of r.notes) lines.push("", `Note: ${note}`);
  lines.push("", "## Targets", "", "| target | limit | measured | met |", "|---|---|---:|---|");
  for (const t of targets(r)) lines.push(`| ${t.what} | ${t.limit} | ${t.measured} | ${t.met === undefined ? "not measured" : t.met ? "yes" : "**no**"} |`);
  lines.push("", "## Startup: spawn to the first output line", "");
  lines.push(`Median of ${r.startup.reps} alternating runs: \`bin/node\` to \`init_ok\` (init written at once) ${ms(r.startup.nodeMs)} ms; a bare \`node -e\` script printing a line ${ms(r.startup.bareMs)} ms; ratio ${x(r.startup.nodeMs / r.startup.bareMs)}.`);
  if (r.latency.length > 0) {
    const first = r.latency[0];
    lines.push("", `## Latency at a paced load (${first?.ratePerSec.toLocaleString("en-US")} calls/s, ${first?.calls.toLocaleString("en-US")} calls, over pipes)`, "");
    lines.push("The driver writes the calls due every millisecond timer tick and timestamps each reply as it reads it; the figures include the driver's own event-loop delays (driver and program share the machine).", "");
    lines.push("| program | p50 ms | p99 ms | max ms | lost |", "|---|---:|---:|---:|---:|");
    for (const l of r.latency) lines.push(`| ${l.label} | ${ms(l.p50Ms)} | ${ms(l.p99Ms)} | ${ms(l.maxMs)} | ${l.missing} |`);
  }
  if (r.growth.length > 0) {
    lines.push("", "## Memory growth with the number of calls (RSS sampled from /proc every 50 ms)", "");
    lines.push("| program | calls | wall s | peak RSS MB | peak / its 200k peak | RSS at 25% / 50% / 75% / end, MB | peak 2nd half / 1st half |", "|---|---:|---:|---:|---:|---|---:|");
    for (const g of r.growth) {
      const small = r.rows.find((row) => g.label === row.label)?.peakRssKb ?? Number.NaN;
      lines.push(
        `| ${g.label} | ${g.calls.toLocaleString("en-US")} | ${(g.wallMs / 1000).toFixed(2)} | ${mb(g.peakRssKb)} | ${x(g.peakRssKb / small)} | ${g.rssAtKb.map(mb).join(" / ")} | ${x(g.secondHalfPeakKb / g.firstHalfPeakKb)} |`,
      );
    }
  }
  lines.push("");
  return lines.join("\n");
}
