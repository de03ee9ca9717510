import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { KEYVALUE_PROTO } from "../lib/grpc/proto-files.js";
import { median, quantile } from "./measure.js";

/**
 * The gRPC section of `npm run bench -- --grpc` (or `node dist/bench/grpc.js`): server CPU per
 * unary call and paced latency of `bin/node --listen` (logging -> auth -> rate_limit -> KeyValue)
 * against a bare grpc-js server of the same .proto with a Map, and against grpc-js server
 * interceptors and nice-grpc middleware doing the same work (bench/grpc-servers.ts). Each server is a process of its own:
 * its CPU comes from /proc/<pid>/stat (utime + stime), so the load generator (this process)
 * is not counted. Writes bench/out/grpc.md.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const HIGH_LIMITS = { RATE_LIMIT_CAPACITY: "1000000000", RATE_LIMIT_REFILL_PER_SEC: "1000000000", LOG_LEVEL: "info" };
const CLOCK_TICKS_PER_SECOND = 100;

export interface GrpcBenchOptions {
  /** Calls per CPU round. */
  readonly calls: number;
  readonly rounds: number;
  /** Calls in flight at once during a CPU round. */
  readonly concurrency: number;
  /** Calls before the first CPU round (and before the warm latency). */
  readonly warmup: number;
  /** Offered load of the latency runs, calls per second, and their length. */
  readonly ratePerSec: number;
  readonly latencyCalls: number;
  /** Messages of the server stream row. */
  readonly streamMessages: number;
}

export const DEFAULT_GRPC: GrpcBenchOptions = { calls: 10_000, rounds: 7, concurrency: 32, warmup: 5_000, ratePerSec: 500, latencyCalls: 1_000, streamMessages: 200_000 };

/** Scans per server in the streaming row, alternating servers. */
const STREAM_ROUNDS = 3;

/** `items` starting at `round` modulo their count, wrapping around. */
function rotated<T>(items: readonly T[], round: number): T[] {
  const at = round % items.length;
  return [...items.slice(at), ...items.slice(0, at)];
}

export interface Server {
  readonly name: string;
  readonly child: ChildProcess;
  readonly client: grpc.Client;
  readonly get: grpc.MethodDefinition<unknown, unknown>;
  readonly putMany: grpc.MethodDefinition<unknown, unknown>;
  readonly scanSerialize: (request: unknown) => Buffer;
}

interface Row {
  readonly name: string;
  readonly cpuUsPerCall: number;
  /** The median over rounds of this server's CPU per call over the bare server's in the same round. */
  readonly perRoundRatio: number;
  readonly cold: { p50: number; p99: number };
  readonly warm: { p50: number; p99: number };
}

function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // Fields 14 and 15 of stat (utime, stime), counted from the state field (3).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

async function waitFor<T>(read: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One server of the section: a node script, its arguments and environment. */
export interface ServerSpec {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Node's own flags, before the script. */
  readonly nodeFlags?: readonly string[];
}

/** The servers compared, the bare one first (the reference of every ratio). */
export function serverSpecs(): ServerSpec[] {
  const servers = join(ROOT, "dist/bench/grpc-servers.js");
  return [
    { name: "grpc-js bare (Map)", script: servers, args: ["bare"], env: {} },
    { name: "grpc-js interceptors", script: servers, args: ["interceptors"], env: {} },
    { name: "nice-grpc middleware", script: servers, args: ["nice-grpc"], env: {} },
    { name: "bin/node --listen", script: join(ROOT, "bin/node"), args: ["--listen", "127.0.0.1:0"], env: HIGH_LIMITS },
  ];
}

/**
 * Starts `spec` (as `node script args`, or under `wrapper` such as valgrind), waits for the
 * port it reports, connects a client and puts the key every Get reads.
 */
export async function start(spec: ServerSpec, logFile: string, wrapper: readonly string[] = [], timeoutMs = 10_000): Promise<Server> {
  const { name } = spec;
  const [command, ...args] = [...wrapper, process.execPath, ...(spec.nodeFlags ?? []), spec.script, ...spec.args];
  const stderr = openSync(logFile, "w");
  const child = spawn(command!, args, { stdio: ["ignore", "pipe", stderr], env: { ...process.env, ...spec.env } });
  closeSync(stderr);
  let stdout = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  let exited = false;
  child.once("exit", () => (exited = true));
  const port = await waitFor(() => {
    if (exited) throw new Error(`${name} exited before listening; see ${logFile}`);
    return /port (\d+)/.exec(stdout)?.[1] ?? /"port":(\d+)[^\n]*"msg":"serving gRPC"/.exec(readFileSync(logFile, "utf8"))?.[1];
  }, `${name} to listen`, timeoutMs);
  const definition = loadSync(KEYVALUE_PROTO, { keepCase: true, defaults: true });
  const service = definition["keyvalue.v1.KeyValue"] as unknown as Record<string, grpc.MethodDefinition<unknown, unknown>>;
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const server = { name, child, client, get: service["Get"]!, putMany: service["PutMany"]!, scanSerialize: service["Scan"]!.requestSerialize };
  await call(server, service["Put"]!, { key: "k", value: "v" });
  return server;
}

const METADATA = (() => {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", "Bearer valid_token");
  return metadata;
})();

function call(server: Server, method: grpc.MethodDefinition<unknown, unknown>, request: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    server.client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request, METADATA.clone(), (error) => (error ? reject(error) : resolve()));
  });
}

/** The Scan row's keys: under their own prefix, so the unary rows' key is not among them. */
const SCAN_PREFIX = "s:";

/** Writes `count` entries under {@link SCAN_PREFIX} with one PutMany (client stream), honouring back-pressure. */
function fill(server: Server, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const { path, requestSerialize, responseDeserialize } = server.putMany;
    const call = server.client.makeClientStreamRequest(path, requestSerialize, responseDeserialize, METADATA.clone(), (error) => (error ? reject(error) : resolve()));
    let i = 0;
    const write = (): void => {
      while (i < count) {
        const ok = call.write({ key: `${SCAN_PREFIX}${String(i++).padStart(7, "0")}`, value: "0123456789" });
        if (!ok) return void call.once("drain", write);
      }
      call.end();
    };
    write();
  });
}

/** One Scan of the first `limit` entries under {@link SCAN_PREFIX}, read to the end (messages not decoded). */
function scan(server: Server, limit: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const path = "/keyvalue.v1.KeyValue/Scan";
    const call = server.client.makeServerStreamRequest(path, server.scanSerialize, (bytes: Buffer) => bytes, { prefix: SCAN_PREFIX, limit }, METADATA.clone());
    call.on("data", () => undefined);
    call.on("end", resolve);
    call.on("error", reject);
  });
}

/** `count` Gets with `concurrency` in flight; resolves when all are answered. */
export async function load(server: Server, count: number, concurrency: number): Promise<void> {
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      await call(server, server.get, { key: "k" });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Gets at a fixed rate (the calls due at each 1 ms tick sent together); p50 and p99 in ms. */
async function paced(server: Server, count: number, ratePerSec: number): Promise<{ p50: number; p99: number }> {
  const latencies: number[] = [];
  const startedAt = performance.now();
  let sent = 0;
  const pending: Promise<void>[] = [];
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - startedAt) * ratePerSec) / 1000));
    for (; sent < due; sent++) {
      const at = performance.now();
      pending.push(call(server, server.get, { key: "k" }).then(() => void latencies.push(performance.now() - at)));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

export async function stop(server: Server): Promise<void> {
  server.client.close();
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGTERM");
  await exited;
}

/** Runs the section; returns the markdown it also writes to bench/out/grpc.md. */
export async function grpcBench(options: GrpcBenchOptions, say: (text: string) => void = (t) => void process.stderr.write(`${t}\n`)): Promise<string> {
  const out = join(ROOT, "bench/out");
  mkdirSync(out, { recursive: true });
  const servers: Server[] = [];
  const cold = new Map<string, { p50: number; p99: number }>();
  try {
    for (const spec of serverSpecs()) {
      const server = await start(spec, join(out, `grpc-${servers.length}.log`));
      servers.push(server);
      const { name } = spec;
      cold.set(name, await paced(server, options.latencyCalls, options.ratePerSec));
      say(`grpc: ${name} started; cold latency measured`);
    }
    for (const server of servers) await load(server, options.warmup, options.concurrency);
    const cpu = new Map<string, number[]>(servers.map((s) => [s.name, []]));
    for (let round = 0; round < options.rounds; round++) {
      // Each round starts with another server, so that none is always first after a pause.
      for (const server of rotated(servers, round)) {
        const before = cpuMsOf(server.child.pid!);
        await load(server, options.calls, options.concurrency);
        cpu.get(server.name)!.push(((cpuMsOf(server.child.pid!) - before) * 1000) / options.calls);
      }
      say(`grpc: round ${round + 1}/${options.rounds}`);
    }
    const rows: Row[] = [];
    const bareRounds = cpu.get(servers[0]!.name)!;
    for (const server of servers) {
      const rounds = cpu.get(server.name)!;
      rows.push({
        name: server.name,
        cpuUsPerCall: median(rounds),
        // A round's servers ran back to back, under the same load: their ratio moves less than the medians'.
        perRoundRatio: median(rounds.map((us, i) => us / bareRounds[i]!)),
        cold: cold.get(server.name)!,
        warm: await paced(server, options.latencyCalls, options.ratePerSec),
      });
    }
    // The same servers stream: KeyValue's Scan over the entries one PutMany wrote.
    for (const server of servers) await fill(server, options.streamMessages);
    say(`grpc: ${options.streamMessages} entries written to each server`);
    for (const server of servers) await scan(server, options.streamMessages / 10); // warm-up
    const scans = new Map<string, { perSecond: number[]; cpuUs: number[] }>(servers.map((s) => [s.name, { perSecond: [], cpuUs: [] }]));
    for (let round = 0; round < STREAM_ROUNDS; round++) {
      for (const server of rotated(servers, round)) {
        const before = cpuMsOf(server.child.pid!);
        const startedAt = performance.now();
        await scan(server, options.streamMessages);
        const seconds = (performance.now() - startedAt) / 1000;
        const measured = scans.get(server.name)!;
        measured.perSecond.push(options.streamMessages / seconds);
        measured.cpuUs.push(((cpuMsOf(server.child.pid!) - before) * 1000) / options.streamMessages);
      }
    }
    const streamed = servers.map((s) => ({ name: s.name, perSecond: median(scans.get(s.name)!.perSecond), cpuUs: median(scans.get(s.name)!.cpuUs) }));
    const streamRows = streamed.map((r) => `| ${r.name} | ${Math.round(r.perSecond).toLocaleString("en")} | ${(r.perSecond / streamed[0]!.perSecond).toFixed(2)} | ${r.cpuUs.toFixed(2)} | ${(r.cpuUs / streamed[0]!.cpuUs).toFixed(2)} |`);
    const bare = rows[0]!.cpuUsPerCall;
    const text = [
      `### gRPC: server CPU per unary call (KeyValue/Get), ${options.rounds} rounds of ${options.calls} calls, ${options.concurrency} in flight; latency at ${options.ratePerSec} calls/s`,
      "",
      "| server | CPU µs/call (median) | x bare | x bare, per round (median) | cold p50 / p99 ms | warm p50 / p99 ms |",
      "|---|---:|---:|---:|---:|---:|",
      ...rows.map((r) => `| ${r.name} | ${r.cpuUsPerCall.toFixed(1)} | ${(r.cpuUsPerCall / bare).toFixed(2)} | ${r.perRoundRatio.toFixed(2)} | ${r.cold.p50.toFixed(2)} / ${r.cold.p99.toFixed(2)} | ${r.warm.p50.toFixed(2)} / ${r.warm.p99.toFixed(2)} |`),
      "",
      `### gRPC: a KeyValue Scan of ${options.streamMessages.toLocaleString("en")} entries (written by one PutMany), read as fast as they come; median of ${STREAM_ROUNDS}`,
      "",
      "| server | messages/s | x bare | server CPU µs/message | x bare |",
      "|---|---:|---:|---:|---:|",
      ...streamRows,
      "",
      `CPU rounds (µs/call): ${rows.map((r) => `${r.name}: ${cpu.get(r.name)!.map((v) => v.toFixed(1)).join(", ")}`).join("; ")}. Cold: the first ${options.latencyCalls} calls after start; warm: after ${options.warmup + options.rounds * options.calls} calls.`,
      "",
    ].join("\n");
    writeFileSync(join(out, "grpc.md"), text);
    return text;
  } finally {
    await Promise.all(servers.map(stop));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(await grpcBench(DEFAULT_GRPC));
}
