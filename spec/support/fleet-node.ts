// A real bin/node child process for the fleet specs: calls are written as envelope
// lines, replies matched by in_reply_to and timed from write to read, stderr kept as log lines.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

/** From dist/spec/helpers to the package root. */
const BIN = fileURLToPath(new URL("../../../bin/node", import.meta.url));

/** Settings a spec does not choose are not inherited from the environment the tests run in. */
const HERMETIC = /^(REDIS_|KV_STORE$|RATE_LIMIT_|AUTH_TOKENS$|TRUST_PROXY$|LOG_LEVEL$|JWT_|POLICY$|PUBLIC_METHODS$|FAULTS_|WIRE_)/;

/** A reply and how long it took, in ms, from writing the request to reading the reply. */
export interface Reply {
  readonly body: Record<string, unknown>;
  readonly ms: number;
}

interface Waiting {
  readonly sent: number;
  readonly resolve: (reply: Reply) => void;
}

/** One bin/node process. */
export class NodeProcess {
  readonly id: string;
  /** Every line written to stderr, parsed (or `{ raw }` when not JSON). */
  readonly logs: Record<string, unknown>[] = [];
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting = new Map<number, Waiting>();
  #nextMsgId = 1;
  #out = "";
  #err = "";

  private constructor(id: string, env: Readonly<Record<string, string>>, args: readonly string[]) {
    this.id = id;
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !HERMETIC.test(k)));
    this.#child = spawn(process.execPath, [BIN, ...args], { env: { ...inherited, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stdout.setEncoding("utf8").on("data", (chunk: string) => this.#onStdout(chunk));
    this.#child.stderr.setEncoding("utf8").on("data", (chunk: string) => this.#onStderr(chunk));
  }

  /** Starts bin/node with `env` (and `args`) and initialises it as `id`; resolves after init_ok. */
  static async start(id: string, env: Readonly<Record<string, string>>, args: readonly string[] = []): Promise<NodeProcess> {
    const node = new NodeProcess(id, env, args);
    const exited = once(node.#child, "exit").then(() => {
      throw new Error(`bin/node ${id} exited during start: ${JSON.stringify(node.logs)}`);
    });
    await Promise.race([node.send("c0", { type: "init", node_id: id, node_ids: [id] }), exited]);
    exited.catch(() => undefined);
    return node;
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Sends `body` from `src` (a msg_id is added); resolves with the reply. */
  send(src: string, body: Record<string, unknown>): Promise<Reply> {
    const msgId = this.#nextMsgId++;
    return new Promise((resolve) => {
      this.#waiting.set(msgId, { sent: performance.now(), resolve });
      this.#child.stdin.write(JSON.stringify({ src, dest: this.id, body: { ...body, msg_id: msgId } }) + "\n");
    });
  }

  /** A KeyValue call from `client` with a valid token. */
  call(client: string, method = "Put", request: unknown = { key: "k", value: "v" }): Promise<Reply> {
    return this.send(client, { type: "grpc_call", service: "KeyValue", method, request, metadata: { authorization: "Bearer valid_token" } });
  }

  /** The node's interceptor stats. */
  async stats(): Promise<{ total_requests: number; auth_failures: number; rate_limited: number }> {
    const { body } = await this.send("c0", { type: "grpc_interceptor_stats" });
    return body["stats"] as { total_requests: number; auth_failures: number; rate_limited: number };
  }

  /** Log lines whose `msg` matches `pattern`. */
  logged(pattern: RegExp): Record<string, unknown>[] {
    return this.logs.filter((line) => typeof line["msg"] === "string" && pattern.test(line["msg"]));
  }

  /** Closes stdin and resolves with the exit code once the process has ended by itself. */
  async end(): Promise<number | null> {
    if (!this.alive) return this.#child.exitCode;
    const exited = once(this.#child, "exit");
    this.#child.stdin.end();
    const [code] = (await exited) as [number | null];
    return code;
  }

  /** Sends SIGTERM and resolves with the exit code once the process has ended by itself. */
  async terminate(): Promise<number | null> {
    if (!this.alive) return this.#child.exitCode;
    const exited = once(this.#child, "exit");
    this.#child.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    return code;
  }

  /** Ends the process, if still running, for after() hooks. */
  kill(): void {
    if (this.alive) this.#child.kill("SIGKILL");
  }

  #onStdout(chunk: string): void {
    const lines = (this.#out + chunk).split("\n");
    this.#out = lines.pop() ?? "";
    const now = performance.now();
    for (const line of lines) {
      const body = (JSON.parse(line) as { body: Record<string, unknown> }).body;
      const waiting = this.#waiting.get(body["in_reply_to"] as number);
      if (waiting === undefined) continue;
      this.#waiting.delete(body["in_reply_to"] as number);
      waiting.resolve({ body, ms: now - waiting.sent });
    }
  }

  #onStderr(chunk: string): void {
    const lines = (this.#err + chunk).split("\n");
    this.#err = lines.pop() ?? "";
    for (const line of lines) {
      try {
        this.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.logs.push({ raw: line });
      }
    }
  }
}

/** Sends `count` calls from `client`, the i-th to `nodes[i % nodes.length]`, all at once. */
export function spread(nodes: readonly NodeProcess[], client: string, count: number): Promise<Reply[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => nodes[i % nodes.length]!.call(client)));
}

/** How many replies have each status. */
export function statuses(replies: readonly Reply[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { body } of replies) counts[String(body["status"])] = (counts[String(body["status"])] ?? 0) + 1;
  return counts;
}
