import { parseArgs } from "node:util";
import { type CallResult, type Client, createClient, credentials, deadline, logging, spawnNode } from "../client.js";
import { LineReader } from "../lib/hosts/stdio/line-reader.js";
import { dumps } from "../lib/hosts/stdio/python-json.js";
import { outcomeText } from "../lib/hosts/stdio/replies.js";
import { CallKind, isCallKind } from "../lib/core/call-kind.js";
import { kindOf } from "../lib/core/service.js";
import { Status } from "../lib/core/status.js";
import { StatusError } from "../lib/core/status-error.js";
import { keyValueService } from "../lib/key-value/key-value.js";

const USAGE = `Usage: bin/call [options] SERVICE METHOD [JSON]     one call; prints the reply
       bin/call [options]                         one call per stdin line: SERVICE METHOD [JSON]

Starts a node, sends it the call(s) and prints each reply as a JSON line:
  {"status": "OK", "interceptors_applied": [...], "response": {...}}
Exits 0 when the (last one-shot) call ended OK, 1 otherwise, 2 on bad usage.

Streaming methods (KeyValue Scan, Watch, PutMany, Batch; others with --kind): each response
message is printed as {"message": {...}}, then the outcome line. Request messages of a client
or bidi stream are read from stdin, one JSON per line; the end of stdin is the half-close.
Ctrl-C cancels the call on the node (or the --target server), prints its CANCELLED outcome and
exits 130, as a shell reports a process ended by SIGINT, so that "bin/call ... Watch && next"
does not go on as if the Watch had ended by itself.

Options:
  --token T        send "authorization: Bearer T" (default: $RPC_TOKEN, which keeps it out of ps)
  --node CMD       the node to start, split on spaces (default: this package's bin/node;
                   its logs go to stderr, at LOG_LEVEL=warn unless LOG_LEVEL is set)
  --target H:P     call the gRPC server at HOST:PORT (proto/keyvalue.proto) instead of starting a node
  --timeout-ms N   deadline of each call (default 5000 for unary calls, none for streams)
  --kind K         unary, server_stream, client_stream or bidi (default: KeyValue's own kinds)
  --verbose        log each outbound call on stderr
  -h, --help       print this text

Example:
  bin/call --token valid_token KeyValue Put '{"key": "k1", "value": "v1"}'
  bin/call --token valid_token KeyValue Watch '{"prefix": "k"}'
  printf '%s\n' '{"put": {"key": "a", "value": "1"}}' '{"get": {"key": "a"}}' | bin/call --token valid_token KeyValue Batch
`;

class UsageError extends Error {}

interface Options {
  readonly token: string | undefined;
  readonly node: string[] | undefined;
  readonly target: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly kind: CallKind;
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
      options: { token: { type: "string" }, node: { type: "string" }, target: { type: "string" }, "timeout-ms": { type: "string" }, kind: { type: "string" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return "help";
  const explicitTimeoutMs = values["timeout-ms"] === undefined ? undefined : Number(values["timeout-ms"]);
  if (explicitTimeoutMs !== undefined && (!Number.isFinite(explicitTimeoutMs) || explicitTimeoutMs <= 0)) throw new UsageError("--timeout-ms must be a number > 0");
  const node = values.node?.trim().split(/\s+/);
  if (node !== undefined && node[0] === "") throw new UsageError("--node needs a command");
  const target = values.target?.trim();
  if (target !== undefined && !/^\S+:\d{1,5}$/.test(target)) throw new UsageError("--target must be HOST:PORT");
  if (target !== undefined && node !== undefined) throw new UsageError("give --target or --node, not both");
  if (positionals.length === 1 || positionals.length > 3) throw new UsageError("give SERVICE METHOD [JSON], or nothing to read calls from stdin");
  const [service, method, json] = positionals;
  const kind = callKindOf(values.kind, service, method);
  if (kind !== CallKind.UNARY && method === undefined) throw new UsageError("a streaming call needs SERVICE METHOD");
  if ((kind === CallKind.CLIENT_STREAM || kind === CallKind.BIDI) && json !== undefined) throw new UsageError(`a ${kind} call reads its request messages from stdin, one JSON per line`);
  const call = service === undefined || method === undefined ? undefined : { service, method, request: parseRequest(json) };
  const timeoutMs = explicitTimeoutMs ?? (kind === CallKind.UNARY ? 5000 : undefined);
  const token = values.token ?? (env["RPC_TOKEN"] || undefined);
  if (token !== undefined && !/^\S+$/.test(token)) throw new UsageError("the token must be non-empty, without whitespace");
  return { token, node, target, timeoutMs, kind, verbose: values.verbose === true, call };
}

/** The kind of the call: `--kind`, else KeyValue's own kind for its methods, else unary. */
function callKindOf(flag: string | undefined, service: string | undefined, method: string | undefined): CallKind {
  if (flag !== undefined) {
    if (!isCallKind(flag)) throw new UsageError("--kind must be unary, server_stream, client_stream or bidi");
    return flag;
  }
  const keyValue = keyValueService();
  const known = service === keyValue.name && method !== undefined ? keyValue.methods[method] : undefined;
  return known === undefined ? CallKind.UNARY : kindOf(known);
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

/** Stdin as the request messages of a client or bidi stream: one JSON per line; its end is the half-close. */
async function* requestLines(): AsyncGenerator<unknown, void, undefined> {
  const lines: string[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const reader = new LineReader({
    maxLineBytes: 16 * 1024 * 1024,
    onLine: (line) => {
      lines.push(line);
      wake?.();
    },
    onOversize: (lineNo) => process.stderr.write(`bin/call: line ${lineNo} is too long; skipped\n`),
  });
  const onData = (chunk: Buffer): void => {
    reader.push(chunk);
    if (lines.length > 256) process.stdin.pause(); // resumed below as the node takes them
  };
  const onEnd = (): void => {
    reader.end();
    ended = true;
    wake?.();
  };
  process.stdin.on("data", onData);
  process.stdin.on("end", onEnd);
  try {
    for (let lineNo = 1; ; lineNo++) {
      while (lines.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      const line = lines.shift();
      if (line === undefined) return;
      if (lines.length <= 64 && process.stdin.isPaused() && !ended) process.stdin.resume();
      if (line.trim() === "") continue;
      try {
        yield JSON.parse(line);
      } catch {
        throw new StatusError(Status.INVALID_ARGUMENT, `stdin line ${lineNo} is not JSON`);
      }
    }
  } finally {
    process.stdin.removeListener("data", onData);
    process.stdin.removeListener("end", onEnd);
    process.stdin.pause();
  }
}

/**
 * Runs one streaming call: prints each response message as `{"message": ...}`, then the outcome.
 * Ctrl-C cancels the call (a Watch ends only so); the exit is then 130, the shell's 128 + SIGINT,
 * as on the gRPC path (lib/app/call-grpc.ts).
 */
async function streamAndPrint(client: Client, kind: CallKind, service: string, method: string, request: unknown): Promise<number> {
  const interrupt = new AbortController();
  const onInterrupt = (): void => interrupt.abort(new StatusError(Status.CANCELLED, "interrupted (Ctrl-C)"));
  process.once("SIGINT", onInterrupt);
  try {
    const options = { signal: interrupt.signal };
    let result: CallResult;
    if (kind === CallKind.CLIENT_STREAM) result = await client.clientStream(service, method, requestLines(), { ...options, throwOnError: false });
    else {
      const call = kind === CallKind.BIDI ? client.bidi(service, method, requestLines(), options) : client.serverStream(service, method, request, options);
      try {
        for await (const message of call) process.stdout.write(`{"message": ${dumps(message)}}\n`);
      } catch {
        // A non-OK end: the outcome line below says which.
      }
      result = await call.result;
    }
    process.stdout.write(render(result));
    if (result.error !== undefined && result.interceptorsApplied === undefined && result.interceptorFailed === undefined && !interrupt.signal.aborted) process.stderr.write(`bin/call: ${result.error.message}\n`);
    if (interrupt.signal.aborted && result.status === Status.CANCELLED) return 130;
    return result.status === Status.OK ? 0 : 1;
  } finally {
    process.removeListener("SIGINT", onInterrupt);
  }
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
    // A streamed request comes from stdin, so such a call has no request of its own.
    const request = options.kind === CallKind.CLIENT_STREAM || options.kind === CallKind.BIDI ? undefined : options.call.request;
    process.exitCode = await callGrpc({ target, ...options.call, request, token, verbose, timeoutMs: options.timeoutMs });
    return;
  }
  // Everything that can throw comes before the node is started: an error must not leave it running.
  const middleware = options.timeoutMs === undefined ? [] : [deadline({ timeoutMs: options.timeoutMs })];
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
    else if (options.kind !== CallKind.UNARY) process.exitCode = await streamAndPrint(client, options.kind, options.call.service, options.call.method, options.call.request);
    else process.exitCode = (await callAndPrint(client, options.call.service, options.call.method, options.call.request)).status === "OK" ? 0 : 1;
  } finally {
    await client.close();
  }
}

await main();
