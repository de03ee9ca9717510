import { parseArgs } from "node:util";
import { type CallResult, type Client, createClient, credentials, deadline, logging, spawnNode } from "../client.js";
import { LineReader } from "../lib/hosts/stdio/line-reader.js";
import { outcomeText } from "../lib/hosts/stdio/replies.js";

const USAGE = `Usage: bin/call [options] SERVICE METHOD [JSON]     one call; prints the reply
       bin/call [options]                         one call per stdin line: SERVICE METHOD [JSON]

Starts a node, sends it the call(s) and prints each reply as a JSON line:
  {"status": "OK", "interceptors_applied": [...], "response": {...}}
Exits 0 when the (last one-shot) call ended OK, 1 otherwise, 2 on bad usage.

Options:
  --token T        send "authorization: Bearer T" (default: $RPC_TOKEN, which keeps it out of ps)
  --node CMD       the node to start, split on spaces (default: this package's bin/node;
                   its logs go to stderr, at LOG_LEVEL=warn unless LOG_LEVEL is set)
  --target H:P     call the gRPC server at HOST:PORT (proto/keyvalue.proto) instead of starting a node;
                   any kind of method: a streamed response prints {"message": ...} lines, a streamed
                   request is read from stdin (one JSON message a line); Ctrl-C cancels (exit 130)
  --timeout-ms N   deadline of each call (default 5000; with --target, none for a streamed response)
  --verbose        log each outbound call on stderr
  -h, --help       print this text

Example:
  bin/call --token valid_token KeyValue Put '{"key": "k1", "value": "v1"}'
`;

class UsageError extends Error {}

interface Options {
  readonly token: string | undefined;
  readonly node: string[] | undefined;
  readonly target: string | undefined;
  readonly timeoutMs: number;
  /** Whether --timeout-ms was given (a streamed response over --target has no default deadline). */
  readonly timeoutMsGiven: boolean;
  readonly verbose: boolean;
  readonly call: { service: string; method: string; request: unknown } | undefined;
}

/** Flags and environment, read in one place. */
function readOptions(argv: string[], env: NodeJS.ProcessEnv): Options | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { token: { type: "string" }, node: { type: "string" }, target: { type: "string" }, "timeout-ms": { type: "string" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return "help";
  const timeoutMs = Number(values["timeout-ms"] ?? "5000");
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError("--timeout-ms must be a number > 0");
  const node = values.node?.trim().split(/\s+/);
  if (node !== undefined && node[0] === "") throw new UsageError("--node needs a command");
  const target = values.target?.trim();
  if (target !== undefined && !/^\S+:\d{1,5}$/.test(target)) throw new UsageError("--target must be HOST:PORT");
  if (target !== undefined && node !== undefined) throw new UsageError("give --target or --node, not both");
  if (positionals.length === 1 || positionals.length > 3) throw new UsageError("give SERVICE METHOD [JSON], or nothing to read calls from stdin");
  const [service, method, json] = positionals;
  const call = service === undefined || method === undefined ? undefined : { service, method, request: json === undefined ? undefined : parseRequest(json) };
  const token = values.token ?? (env["RPC_TOKEN"] || undefined);
  if (token !== undefined && !/^\S+$/.test(token)) throw new UsageError("the token must be non-empty, without whitespace");
  return { token, node, target, timeoutMs, timeoutMsGiven: values["timeout-ms"] !== undefined, verbose: values.verbose === true, call };
}

function parseRequest(json: string | undefined): unknown {
  if (json === undefined || json.trim() === "") return {};
  try {
    return JSON.parse(json);
  } catch {
    throw new UsageError(`the request is not JSON: ${json}`);
  }
}

/** The outcome as a line: the keys of the wire's `grpc_call_ok` in its order, without the ids. */
function render(result: CallResult): string {
  return `{${outcomeText(result)}}\n`;
}

async function callAndPrint(client: Client, service: string, method: string, request: unknown): Promise<CallResult> {
  const result = await client.call(service, method, request);
  process.stdout.write(render(result));
  // Only an outcome the server did not give (a deadline, a lost node) needs explaining.
  if (result.error !== undefined && result.interceptorsApplied === undefined && result.interceptorFailed === undefined) process.stderr.write(`bin/call: ${result.error.message}\n`);
  return result;
}

/** Reads `SERVICE METHOD [JSON]` lines from stdin and makes the calls one after another. */
function interactive(client: Client): Promise<void> {
  let queue = Promise.resolve();
  const reader = new LineReader({
    maxLineBytes: 16 * 1024 * 1024,
    onLine: (line, lineNo) => {
      const match = /^\s*(\S+)\s+(\S+)\s*(.*)$/.exec(line);
      if (line.trim() === "" || line.trimStart().startsWith("#")) return;
      queue = queue.then(async () => {
        try {
          if (match === null) throw new UsageError("expected SERVICE METHOD [JSON]");
          await callAndPrint(client, match[1]!, match[2]!, parseRequest(match[3]));
        } catch (error) {
          if (!(error instanceof UsageError)) throw error;
          process.stderr.write(`bin/call: line ${lineNo}: ${error.message}\n`);
        }
      });
    },
    onOversize: (lineNo) => process.stderr.write(`bin/call: line ${lineNo} is too long; skipped\n`),
  });
  return new Promise((resolve, reject) => {
    process.stdin.on("data", (chunk: Buffer) => reader.push(chunk));
    process.stdin.on("end", () => {
      reader.end();
      queue.then(resolve, reject);
    });
  });
}

async function main(): Promise<void> {
  let options;
  try {
    options = readOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bin/call: ${error.message}\nTry 'bin/call --help'.\n`);
    process.exitCode = 2;
    return;
  }
  if (options === "help") {
    process.stdout.write(USAGE);
    return;
  }
  if (options.target !== undefined && options.call !== undefined) {
    const { callGrpc } = await import("../lib/app/call-grpc.js");
    const { target, token, verbose } = options;
    process.exitCode = await callGrpc({ target, ...options.call, token, verbose, timeoutMs: options.timeoutMsGiven ? options.timeoutMs : undefined });
    return;
  }
  // Everything that can throw comes before the node is started: an error must not leave it running.
  const middleware = [deadline({ timeoutMs: options.timeoutMs })];
  if (options.verbose) middleware.unshift(logging());
  if (options.token !== undefined) middleware.push(credentials({ token: options.token }));
  const env = { ...process.env, LOG_LEVEL: process.env["LOG_LEVEL"] ?? "warn" };
  const [command, ...args] = options.node ?? [];
  const client: Client = options.target !== undefined
    ? createClient(new (await import("../lib/client/transports/grpc-transport.js")).GrpcTransport({ target: options.target }))
    : createClient(spawnNode(command === undefined ? { env } : { command, args, env }));
  for (const layer of middleware) client.use(layer);
  try {
    if (options.call === undefined) await interactive(client);
    else process.exitCode = (await callAndPrint(client, options.call.service, options.call.method, options.call.request ?? {})).status === "OK" ? 0 : 1;
  } finally {
    await client.close();
  }
}

await main();
