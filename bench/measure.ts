import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";

/** One program to measure: what to start, with which environment and arguments. */
export interface Program {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** What one run of a program over one input file produced. */
export interface RunResult {
  readonly wallMs: number;
  /** Peak resident set size in KiB, or NaN when it could not be measured. */
  readonly peakRssKb: number;
  /** User + system CPU time of the program, ms (NaN without GNU time): steadier than wall time on a busy machine. */
  readonly cpuMs: number;
  readonly exitCode: number | null;
  /** Output lines (newline-terminated). */
  readonly lines: number;
  /** SHA-256 of the whole stdout, to compare programs that should print the same bytes. */
  readonly sha256: string;
}

const TIME = "/usr/bin/time";
/** GNU time reports the child's peak RSS (`%M`, KiB) and CPU time; without it /proc is polled for RSS. */
export const HAVE_GNU_TIME = existsSync(TIME);

/**
 * Runs `program` with stdin from `inputFile`, stdout to `stdoutFile` and stderr to
 * `stderrFile` (files, not pipes, so that the harness spends no CPU while the program runs),
 * and measures its wall time (spawn to exit, from this process) and peak RSS.
 */
export async function runOnce(program: Program, inputFile: string, stdoutFile: string, stderrFile: string): Promise<RunResult> {
  const rssFile = `${stdoutFile}.rss`;
  const stdin = openSync(inputFile, "r");
  const stdout = openSync(stdoutFile, "w");
  const stderr = openSync(stderrFile, "w");
  const [command, args] = HAVE_GNU_TIME
    ? [TIME, ["-f", "%M %U %S", "-o", rssFile, program.command, ...program.args]]
    : [program.command, [...program.args]];
  let polledKb = Number.NaN;
  const start = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: [stdin, stdout, stderr], env: { ...process.env, ...program.env } });
  const poll = HAVE_GNU_TIME ? undefined : setInterval(() => {
    const kb = peakFromProc(child.pid);
    if (!Number.isNaN(kb)) polledKb = kb;
  }, 10);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  }).finally(() => {
    if (poll !== undefined) clearInterval(poll);
    closeSync(stdin);
    closeSync(stdout);
    closeSync(stderr);
  });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  let peakRssKb = polledKb;
  let cpuMs = Number.NaN;
  if (HAVE_GNU_TIME) {
    // The last line: time prints "Command exited with non-zero status N" before it on failure.
    const [rss, user, system] = (readFileSync(rssFile, "utf8").trim().split("\n").pop() ?? "").split(" ").map(Number);
    peakRssKb = rss ?? Number.NaN;
    cpuMs = ((user ?? Number.NaN) + (system ?? Number.NaN)) * 1000;
    rmSync(rssFile, { force: true });
  }
  const { lines, sha256 } = await digest(stdoutFile);
  return { wallMs, peakRssKb, cpuMs, exitCode, lines, sha256 };
}

/** VmHWM (peak RSS, KiB) of a live process, or NaN once it is gone. */
export function peakFromProc(pid: number | undefined): number {
  return procField(pid, "VmHWM");
}

/** VmRSS (current RSS, KiB) of a live process, or NaN once it is gone. */
export function rssFromProc(pid: number | undefined): number {
  return procField(pid, "VmRSS");
}

function procField(pid: number | undefined, field: string): number {
  if (pid === undefined) return Number.NaN;
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match?.[1] === undefined ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}

/** Counts the newline-terminated lines of a file and hashes it. */
export async function digest(file: string): Promise<{ lines: number; sha256: string }> {
  const hash = createHash("sha256");
  let lines = 0;
  for await (const chunk of createReadStream(file)) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) lines++;
  }
  return { lines, sha256: hash.digest("hex") };
}

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** The q-quantile (0..1) of a list, interpolating between neighbours; NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

/** A run sampled over time: RSS every `everyMs`, from /proc, on the program's own pid. */
export interface SampledRun {
  readonly wallMs: number;
  readonly peakRssKb: number;
  readonly exitCode: number | null;
  readonly lines: number;
  /** [ms since start, RSS KiB] pairs. */
  readonly samples: readonly (readonly [number, number])[];
}

/**
 * Like {@link runOnce}, but without the `time` wrapper: the program's own pid is polled in
 * /proc for its RSS over the run (to see whether memory grows with the number of calls).
 */
export async function runSampled(program: Program, inputFile: string, stdoutFile: string, stderrFile: string, everyMs = 50): Promise<SampledRun> {
  const stdin = openSync(inputFile, "r");
  const stdout = openSync(stdoutFile, "w");
  const stderr = openSync(stderrFile, "w");
  const start = process.hrtime.bigint();
  const child = spawn(program.command, [...program.args], { stdio: [stdin, stdout, stderr], env: { ...process.env, ...program.env } });
  const samples: [number, number][] = [];
  let peakRssKb = Number.NaN;
  const poll = setInterval(() => {
    const rss = rssFromProc(child.pid);
    const peak = peakFromProc(child.pid);
    if (!Number.isNaN(rss)) samples.push([Number(process.hrtime.bigint() - start) / 1e6, rss]);
    if (!Number.isNaN(peak)) peakRssKb = peak;
  }, everyMs);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  }).finally(() => {
    clearInterval(poll);
    closeSync(stdin);
    closeSync(stdout);
    closeSync(stderr);
  });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const { lines } = await digest(stdoutFile);
  return { wallMs, peakRssKb, exitCode, lines, samples };
}
