import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { load, type ServerSpec, serverSpecs, start, stop } from "./grpc.js";

/**
 * `npm run bench -- --grpc-instructions`: the gRPC section's servers (bench/grpc.ts), each run
 * under valgrind's callgrind, which counts the instructions the server executes in user space
 * (every thread of it, the thread pool included), whatever else the machine is doing. Each
 * server answers `few` Gets in one run and `many` in another, after the same start; the
 * difference, divided by `many - few`, is its instructions per call with start-up and warm-up
 * taken out. The load generator is this process, outside valgrind.
 *
 * What it does not count: the kernel's share (sockets, syscalls; about the same for every
 * server, and in the CPU figures of `--grpc`), nor time waiting. It answers "how much more work
 * does the pipeline do than a bare server" without the noise of a shared machine.
 */
const FEW = 1_000;
const MANY = 6_000;
const CONCURRENCY = 32;
/** valgrind runs node about 50 times slower: its start takes tens of seconds. */
const START_TIMEOUT_MS = 180_000;
/**
 * What makes two runs of one server count alike: no compiler or GC threads racing the main one
 * (with them, two runs of one server differed by up to 16%), fixed hash and random seeds,
 * and no address randomisation (setarch -R, where there is one).
 */
const PINNED = ["--single-threaded", "--hash-seed=1", "--random-seed=1"];
const NO_ASLR = spawnSync("setarch", ["-R", "true"]).status === 0 ? ["setarch", "-R"] : [];

/** Instructions `spec`'s server executes in one run answering `calls` Gets (every thread summed). */
async function instructionsOf(spec: ServerSpec, calls: number, dir: string): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const wrapper = [...NO_ASLR, "valgrind", "--tool=callgrind", `--callgrind-out-file=${join(dir, "callgrind.out")}`];
  const server = await start({ ...spec, nodeFlags: PINNED }, join(dir, "stderr.log"), wrapper, START_TIMEOUT_MS);
  try {
    await load(server, calls, CONCURRENCY);
  } finally {
    await stop(server);
  }
  let total = 0;
  for (const file of readdirSync(dir).filter((name) => name.startsWith("callgrind.out"))) {
    const summary = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, file), "utf8"));
    if (summary === null) throw new Error(`no instruction total in ${join(dir, file)}`);
    total += Number(summary[1]);
  }
  return total;
}

/** Runs the section; returns its markdown, or a line saying why it could not run. */
export async function grpcInstructions(out: string, say: (text: string) => void): Promise<string> {
  if (spawnSync("valgrind", ["--version"]).status !== 0) return "gRPC instructions: skipped, valgrind is not installed.\n";
  const rows: { name: string; perCall: number }[] = [];
  for (const spec of serverSpecs()) {
    const dir = join(out, "grpc-callgrind");
    const few = await instructionsOf(spec, FEW, dir);
    const many = await instructionsOf(spec, MANY, dir);
    rows.push({ name: spec.name, perCall: (many - few) / (MANY - FEW) });
    say(`grpc instructions: ${spec.name} measured`);
  }
  const bare = rows[0]!.perCall;
  return [
    `### gRPC: user-space instructions per unary call (KeyValue/Get) under callgrind, ${MANY.toLocaleString("en")} calls minus ${FEW.toLocaleString("en")}, ${CONCURRENCY} in flight`,
    "",
    "| server | instructions/call | x bare |",
    "|---|---:|---:|",
    ...rows.map((r) => `| ${r.name} | ${Math.round(r.perCall).toLocaleString("en")} | ${(r.perCall / bare).toFixed(2)} |`),
    "",
    `Each server runs as \`node ${PINNED.join(" ")}\`${NO_ASLR.length > 0 ? " under setarch -R" : ""}: one thread, fixed seeds, so that its runs count alike. Kernel time is not in these counts (it is in the CPU table), nor is the machine's load.`,
    "",
  ].join("\n");
}
