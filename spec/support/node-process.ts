import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The repository root, from dist/spec/support. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** The executable under test, as the test runner starts it. */
export const BIN_NODE = `${ROOT}bin/node`;

/** Every setting bin/node reads from the environment; cleared so the caller's shell cannot leak in. */
const CONFIG_VARS = [
  "LOG_LEVEL", "AUTH_TOKENS", "RATE_LIMIT_CAPACITY", "RATE_LIMIT_REFILL_PER_SEC", "TRUST_PROXY", "MAX_LINE_BYTES", "MAX_IN_FLIGHT", "REDIS_URL",
  "MAX_METADATA_ENTRIES", "MAX_METADATA_VALUE_BYTES", "MAX_KEY_BYTES", "MAX_VALUE_BYTES", "LISTEN", "GRPC_MAX_MESSAGE_BYTES", "GRPC_SHUTDOWN_GRACE_MS",
  "METRICS_LISTEN", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME",
  "JWT_JWKS", "JWT_SECRET", "JWT_PUBLIC_KEY", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_ALGORITHMS", "JWT_CLOCK_TOLERANCE_SEC", "JWT_JWKS_HTTP_LOOPBACK",
  "POLICY", "PUBLIC_METHODS", "FAULTS_FROM_METADATA", "WIRE_RETRY_AFTER",
];

/** Options of {@link NodeProcess.start}. */
export interface StartOptions {
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** How the process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A running `bin/node`: write lines to it, read the lines it prints, wait for it to exit.
 * Every wait has a deadline, so a hung node fails the spec instead of stalling mocha.
 *
 * @example
 *   const node = NodeProcess.start({ env: { LOG_LEVEL: "debug" } });
 *   node.writeLines([init]);
 *   await node.waitForLines(1);
 *   node.end();
 *   const { code } = await node.exited();
 */
export class NodeProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #exit: Promise<Exit>;
  #stdout = "";
  #stderr = "";
  #waiters: (() => void)[] = [];
  #closed = false;
  #unsent = 0;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (text: string) => {
      this.#stdout += text;
      this.#notify();
    });
    child.stderr.on("data", (text: string) => (this.#stderr += text));
    // The node may exit (bad flag, --help) before reading what was written to it.
    child.stdin.on("error", () => {});
    this.#exit = new Promise((resolve) => child.on("close", (code, signal) => {
      this.#closed = true;
      resolve({ code, signal });
      this.#notify();
    }));
  }

  static start(options: StartOptions = {}): NodeProcess {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const name of CONFIG_VARS) delete env[name];
    const child = spawn(BIN_NODE, [...(options.args ?? [])], { cwd: ROOT, env: { ...env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
    return new NodeProcess(child);
  }

  /** The process id, e.g. to signal it. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The complete lines printed on stdout so far. */
  get lines(): string[] {
    const text = this.#stdout;
    const end = text.lastIndexOf("\n");
    return end === -1 ? [] : text.slice(0, end).split("\n");
  }

  /** Everything printed on stdout so far, partial last line included. */
  get stdout(): string {
    return this.#stdout;
  }

  /** Everything printed on stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** The stderr lines parsed as JSON (the log records); lines that are not JSON are left out. */
  get logRecords(): Record<string, unknown>[] {
    const records: Record<string, unknown>[] = [];
    for (const line of this.#stderr.split("\n")) {
      try {
        const record: unknown = JSON.parse(line);
        if (record !== null && typeof record === "object") records.push(record as Record<string, unknown>);
      } catch {
        // not a log record
      }
    }
    return records;
  }

  /** Writes each string as one line. */
  writeLines(lines: readonly string[]): void {
    this.#child.stdin.write(lines.map((line) => `${line}\n`).join(""));
  }

  /**
   * Writes the lines in chunks of about 64 KiB, each once the pipe has taken the one before, so
   * that {@link inputBacklog} tells how far the node has read. Resolves when all are written.
   */
  async writeLinesPaced(lines: Iterable<string>): Promise<void> {
    const chunks: string[] = [];
    let batch = "";
    for (const line of lines) {
      batch += `${line}\n`;
      if (batch.length >= 65_536) {
        chunks.push(batch);
        batch = "";
      }
    }
    if (batch !== "") chunks.push(batch);
    this.#unsent = chunks.reduce((bytes, chunk) => bytes + Buffer.byteLength(chunk), 0);
    await this.writePaced(chunks, (chunk) => (this.#unsent -= Buffer.byteLength(chunk)));
  }

  /**
   * Writes the chunks one at a time, each once the pipe has taken the one before: a generator
   * of chunks never sits in memory whole. Resolves when all are written (or the node is gone).
   */
  async writePaced<T extends string | Uint8Array>(chunks: Iterable<T>, written?: (chunk: T) => void): Promise<void> {
    for (const chunk of chunks) {
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#child.stdin.write(chunk, () => resolve()));
      written?.(chunk);
    }
  }

  /** Writes raw text or bytes, newlines as given. */
  writeRaw(data: string | Uint8Array): void {
    this.#child.stdin.write(data);
  }

  /** Closes stdin: end of input. */
  end(): void {
    this.#child.stdin.end();
  }

  /** Whether the process has exited and its streams have closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a signal to the process. */
  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Stops reading stdout (the pipe fills and the node's writes back up) or starts again. */
  pauseOutput(paused: boolean): void {
    if (paused) this.#child.stdout.pause();
    else this.#child.stdout.resume();
  }

  /** Closes our end of the node's stdout: its next write fails with EPIPE. */
  closeOutput(): void {
    this.#child.stdout.destroy();
  }

  /**
   * Bytes of {@link writeLinesPaced} input the node has not taken yet (on our side of the pipe,
   * give or take the chunk in the pipe).
   */
  get inputBacklog(): number {
    return this.#unsent;
  }

  /** The node's resident memory now and at its peak (Linux /proc), in MiB. */
  memory(): { readonly rssMiB: number; readonly peakMiB: number } {
    const status = readFileSync(`/proc/${this.#child.pid}/status`, "utf8");
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
  }

  /** CPU time the node has used so far (user + system, Linux /proc), in ms. */
  cpuMs(): number {
    // Fields 14 and 15 of /proc/pid/stat, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
    const stat = readFileSync(`/proc/${this.#child.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  }

  /** Resolves with the stdout lines once at least `count` complete lines have arrived. */
  async waitForLines(count: number, timeoutMs = 5000): Promise<string[]> {
    await this.#waitUntil(() => this.lines.length >= count, timeoutMs, () => `${count} stdout lines (got ${this.lines.length})`);
    return this.lines;
  }

  /** Resolves once stdin, stdout and stderr are closed and the process has exited. */
  async exited(timeoutMs = 5000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#child.kill("SIGKILL");
        reject(new Error(`bin/node did not exit within ${timeoutMs} ms; stderr tail:\n${this.#stderr.slice(-2000)}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.#exit, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  #notify(): void {
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const wake of waiting) wake();
  }

  async #waitUntil(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0 || this.#closed) {
        if (done()) return;
        throw new Error(`waiting for ${what()}: ${left <= 0 ? "timed out" : "bin/node exited"}; stderr tail:\n${this.#stderr.slice(-2000)}`);
      }
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }
}

/** What a whole run printed and how it ended. */
export interface Run extends Exit {
  readonly lines: string[];
  readonly stdout: string;
  readonly stderr: string;
  readonly logRecords: Record<string, unknown>[];
}

/**
 * Starts bin/node, writes `input` (one line each), closes stdin at once and waits for the exit:
 * the EOF path, which must answer everything before exiting.
 */
export async function runNode(input: readonly string[], options: StartOptions = {}): Promise<Run> {
  const node = NodeProcess.start(options);
  node.writeLines(input);
  node.end();
  const exit = await node.exited();
  return { ...exit, lines: node.lines, stdout: node.stdout, stderr: node.stderr, logRecords: node.logRecords };
}

/**
 * Starts nodes for the specs of one `describe` and kills, after each spec, any it left running
 * (a node waiting for a reader that will never read again must not outlive its spec).
 */
export function nodesKilledAfterEach(): (env: Record<string, string>) => NodeProcess {
  const started: NodeProcess[] = [];
  afterEach(() => {
    for (const node of started.splice(0)) if (!node.closed) node.kill("SIGKILL");
  });
  return (env) => {
    const node = NodeProcess.start({ env });
    started.push(node);
    return node;
  };
}
