/**
 * A million calls from a million distinct clients through the real bin/node: the rate
 * limiter keeps a bucket per client, so without its idle drop and maxKeys bound the node's
 * memory would grow with every new client. Prints the node's RSS as the calls go through and
 * exits 1 unless every call was answered and RSS stayed flat (the second half's peak within
 * 16 MiB of the first half's).
 *
 *   npm run build && node dist/bench/memory-distinct-clients.js [calls]
 *
 * The node runs with a 64 MiB old space (--max-old-space-size=64): without a cap V8 lets garbage
 * pile up to about 200 MiB of RSS before a full collection, a sawtooth that hides the trend,
 * while with it RSS stays near what is live, and a limiter that kept one bucket per client (a
 * million of them: well over 64 MiB) would run the node out of memory. Slow (about 10 s for a
 * million), hence a script and not a spec; spec/token-bucket.memory.spec.ts is the fast check
 * of the same bound.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CALLS = Number(process.argv[2] ?? 1_000_000);
const AUTH = { authorization: "Bearer valid_token" };

function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? Number.NaN) / 1024;
}

async function main(): Promise<void> {
  const env = { ...process.env, LOG_LEVEL: "warn", NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} --max-old-space-size=64`.trim() };
  const child = spawn(`${ROOT}bin/node`, [], { cwd: ROOT, env, stdio: ["pipe", "pipe", "inherit"] });
  const pid = child.pid ?? 0;
  let replies = 0;
  let notFound = 0;
  let tail = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text: string) => {
    const lines = (tail + text).split("\n");
    tail = lines.pop() ?? "";
    replies += lines.length;
    for (const line of lines) if (line.includes('"status": "NOT_FOUND"')) notFound++;
  });
  let gone = false;
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => ((gone = true), resolve(code))));
  child.stdin.on("error", () => {}); // a node that died (out of memory, say) is reported below

  const samples: { readonly replies: number; readonly rss: number }[] = [];
  const sampler = setInterval(() => samples.push({ replies, rss: rssMiB(pid) }), 250);
  const started = performance.now();

  // Written in batches of about 64 KiB, each when the pipe has room: the input never sits in
  // this process whole.
  const stdin = child.stdin;
  const write = (chunk: string): Promise<void> =>
    gone || stdin.write(chunk) ? Promise.resolve() : new Promise((resolve) => {
      stdin.once("drain", resolve);
      void exited.then(() => resolve());
    });
  let batch = `${JSON.stringify({ src: "c0", dest: "n1", body: { type: "init", msg_id: 0, node_id: "n1", node_ids: ["n1"] } })}\n`;
  for (let i = 1; i <= CALLS; i++) {
    batch += `${JSON.stringify({ src: `client-${i}`, dest: "n1", body: { type: "grpc_call", msg_id: i, service: "KeyValue", method: "Get", request: { key: "k" }, metadata: AUTH } })}\n`;
    if (gone) break;
    if (batch.length >= 65_536) {
      await write(batch);
      batch = "";
    }
  }
  await write(batch);
  stdin.end();
  const code = await exited;
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;

  const answered = replies - 1;
  const firstHalf = samples.filter((s) => s.replies <= CALLS / 2);
  const secondHalf = samples.filter((s) => s.replies > CALLS / 2);
  const peak = (list: readonly { rss: number }[]): number => Math.max(0, ...list.map((s) => s.rss));
  console.log(`bin/node (64 MiB old space): ${CALLS.toLocaleString("en")} calls from ${CALLS.toLocaleString("en")} distinct clients in ${seconds.toFixed(1)} s, exit ${code}`);
  console.log("replies      RSS MiB");
  for (let tenth = 1; tenth <= 10; tenth++) {
    const sample = samples.find((s) => s.replies >= (CALLS * tenth) / 10) ?? samples.at(-1);
    if (sample !== undefined) console.log(`${String(sample.replies).padStart(9)}  ${sample.rss.toFixed(1).padStart(8)}`);
  }
  console.log(`peak RSS: first half ${peak(firstHalf).toFixed(1)} MiB, second half ${peak(secondHalf).toFixed(1)} MiB`);
  const problems: string[] = [];
  if (code !== 0) problems.push(`exit code ${code}`);
  if (answered !== CALLS || notFound !== CALLS) problems.push(`${answered} calls answered, ${notFound} NOT_FOUND; expected ${CALLS} each (none rate limited: each client calls once)`);
  if (secondHalf.length > 0 && peak(secondHalf) > peak(firstHalf) + 16) problems.push("RSS grew in the second half: memory is not bounded");
  console.log(problems.length === 0 ? "PASS: every call answered, RSS flat" : `FAIL: ${problems.join("; ")}`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}

void main();
