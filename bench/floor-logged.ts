import { performance } from "node:perf_hooks";
import { createLogger } from "../lib/logging/logger.js";

/**
 * A reference program for `npm run bench`, not a target: ../shared/bench/floor-batched.js
 * (parse, one Map operation, stringify, no middleware) plus the one thing bin/node must do per
 * call that the floor does not, one info line through the project's logger (pino on a
 * LogSink), the same line the logging middleware writes. It shows what the logging alone costs.
 */
const { logger, flush } = createLogger({ level: "info" });
const store = new Map<string, unknown>();
const applied = ["logging", "auth", "rate_limit"];
let next = 0;
let rest = "";

type Message = { src: string; dest: string; body: { type: string; msg_id: number; service: string; method: string; request: { key: string; value?: unknown } } };

function handle(line: string): string {
  const start = performance.now();
  const m = JSON.parse(line) as Message;
  const b = m.body;
  let body: Record<string, unknown>;
  if (b.type === "init") body = { type: "init_ok", in_reply_to: b.msg_id };
  else if (b.method === "Put") {
    store.set(b.request.key, b.request.value);
    body = { type: "grpc_call_ok", in_reply_to: b.msg_id, status: "OK", interceptors_applied: applied, response: { written: true } };
  } else {
    const v = store.get(b.request.key);
    body = { type: "grpc_call_ok", in_reply_to: b.msg_id, status: v === undefined ? "NOT_FOUND" : "OK", interceptors_applied: applied, response: v === undefined ? { key: b.request.key, found: false } : { key: b.request.key, value: v, found: true } };
  }
  if (b.type !== "init") logger.info({ service: b.service, method: b.method, client: m.src, status: body["status"], ms: Math.round((performance.now() - start) * 1000) / 1000 }, "call");
  body["msg_id"] = next++;
  return JSON.stringify({ src: m.dest, dest: m.src, body });
}

process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  const lines = (rest + chunk).split("\n");
  rest = lines.pop() ?? "";
  let out = "";
  for (const l of lines) if (l) out += handle(l) + "\n";
  if (out) process.stdout.write(out);
});
process.stdin.on("end", () => {
  if (rest) process.stdout.write(handle(rest) + "\n");
  flush();
});
