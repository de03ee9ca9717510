import { spawn } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import type { Program } from "./measure.js";
import { quantile } from "./measure.js";

/** Per-call latency at a fixed offered load. */
export interface Latency {
  readonly calls: number;
  readonly ratePerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Replies whose request id never came back, or came back twice: must be 0. */
  readonly missing: number;
}

const IN_REPLY_TO = /"in_reply_to": ?(\d+)/;

/**
 * Starts `program`, sends `init` and waits for its reply, then writes the `calls` lines at
 * `ratePerSec` (every millisecond timer tick writes the calls that are due by then, in one
 * write) and timestamps each reply as it arrives: latency = reply seen - request written. The
 * figures include this driver's own event-loop delays (both sides share the 2 cores).
 */
export async function pacedLatency(program: Program, init: string, calls: readonly string[], ratePerSec: number, stderrFile: string): Promise<Latency> {
  const stderr = openSync(stderrFile, "w");
  const child = spawn(program.command, [...program.args], { stdio: ["pipe", "pipe", stderr], env: { ...process.env, ...program.env } });
  const { stdin, stdout } = child;
  if (stdin === null || stdout === null) throw new Error("spawn gave no stdio pipes");
  const sentAt = new Map<number, bigint>();
  const latencies: number[] = [];
  let missing = 0;
  let initDone: () => void = () => {};
  const initSeen = new Promise<void>((resolve) => (initDone = resolve));
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  let rest = "";
  stdout.setEncoding("utf8");
  stdout.on("data", (chunk: string) => {
    const now = process.hrtime.bigint();
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      const id = Number(IN_REPLY_TO.exec(line)?.[1]);
      if (line.includes('"init_ok"')) {
        initDone();
        continue;
      }
      const at = sentAt.get(id);
      if (at === undefined) missing++;
      else {
        latencies.push(Number(now - at) / 1e6);
        sentAt.delete(id);
      }
      if (latencies.length + missing >= calls.length) allDone();
    }
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  stdin.write(init + "\n");
  await initSeen;

  const ids = calls.map((line) => Number(/"msg_id": ?(\d+)/.exec(line)?.[1]));
  const start = process.hrtime.bigint();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(calls.length, Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * ratePerSec) + 1);
      if (due > sent) {
        let batch = "";
        for (let i = sent; i < due; i++) batch += calls[i] + "\n";
        const now = process.hrtime.bigint();
        for (let i = sent; i < due; i++) sentAt.set(ids[i] as number, now);
        stdin.write(batch);
        sent = due;
      }
      if (sent < calls.length) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  stdin.end();
  await exited;
  closeSync(stderr);
  missing += sentAt.size;
  return {
    calls: calls.length,
    ratePerSec,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: quantile(latencies, 1),
    missing,
  };
}

/**
 * Milliseconds from spawning `program` to the first complete line on its stdout. `input`, when
 * given, is written at once (bin/node answers `init` with `init_ok`); stdin is closed after
 * that line arrives.
 */
export async function timeToFirstLine(program: Program, input: string | undefined): Promise<number> {
  const start = process.hrtime.bigint();
  const child = spawn(program.command, [...program.args], { stdio: ["pipe", "pipe", "ignore"], env: { ...process.env, ...program.env } });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (input !== undefined) child.stdin.write(input + "\n");
  const ms = await new Promise<number>((resolve, reject) => {
    let seen = "";
    child.stdout.on("data", (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      if (seen.includes("\n")) resolve(Number(process.hrtime.bigint() - start) / 1e6);
    });
    child.once("exit", () => reject(new Error(`${program.command} exited before printing a line`)));
  });
  child.stdin.end();
  await exited;
  return ms;
}
