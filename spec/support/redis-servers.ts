// Private redis-server processes for the Redis specs: each on a free port of
// 127.0.0.1 with its own temporary directory, no persistence, stopped and removed after. The
// machine's own Redis (6379) is never connected to, flushed or depended on.
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

const run = promisify(execFile);
const HOST = "127.0.0.1";

/** Why the Redis specs cannot run on this machine, or undefined when they can. */
export function redisMissing(): string | undefined {
  for (const tool of ["redis-server", "redis-cli"]) {
    if (spawnSync(tool, ["--version"], { stdio: "ignore" }).error !== undefined) return `${tool} is not installed (apt-get install redis-server)`;
  }
  return undefined;
}

/**
 * For a suite's `before()`: skips the suite, saying why, when redis-server is missing; with
 * CI=true a missing Redis fails instead, so that CI cannot pass without running these specs.
 */
export function requireRedis(ctx: Mocha.Context): void {
  const missing = redisMissing();
  if (missing === undefined) return;
  if (process.env["CI"] === "true") throw new Error(`Redis specs cannot run: ${missing}`);
  process.stdout.write(`      (skipped: ${missing})\n`);
  ctx.skip();
}

function listen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, HOST, () => resolve(server));
  });
}

/** A port free on 127.0.0.1 whose cluster bus port (port + 10000) is free too. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const [server, bus] = await Promise.all([listen(port), listen(port + 10000)]);
    await Promise.all([server, bus].map((s) => (s === undefined ? undefined : new Promise((r) => s.close(r)))));
    if (server !== undefined && bus !== undefined) return port;
  }
  throw new Error("no free port pair found");
}

/** Resolves once something on `port` answers PING with PONG; rejects after `timeoutMs`. */
async function untilPong(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, HOST);
      socket.setTimeout(200, () => socket.destroy());
      socket.once("connect", () => socket.write("PING\r\n"));
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString().startsWith("+PONG"));
      });
      socket.once("error", () => resolve(false));
      socket.once("close", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** One private redis-server. */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #args: string[];
  #process: ChildProcess | undefined;

  private constructor(port: number, dir: string, args: string[]) {
    this.port = port;
    this.dir = dir;
    this.#args = args;
  }

  /** Starts a redis-server on a free port; `cluster` turns cluster mode on; `args` are more redis-server options. */
  static async start(options: { cluster?: boolean; args?: readonly string[] } = {}): Promise<RedisServer> {
    // Other test runs on the machine pick free ports too: a port taken between the check and the
    // bind is detected by restart(), and another port is tried.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const dir = await mkdtemp(path.join(tmpdir(), "rpc-redis-"));
      const args = ["--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", path.join(dir, "redis.log")];
      if (options.cluster === true) args.push("--cluster-enabled", "yes", "--cluster-config-file", path.join(dir, "nodes.conf"), "--cluster-node-timeout", "5000");
      args.push(...(options.args ?? []));
      const server = new RedisServer(port, dir, args);
      try {
        await server.restart();
        return server;
      } catch (error) {
        await server.stop();
        if (attempt >= 5) throw error;
      }
    }
  }

  /** `redis://127.0.0.1:port`. */
  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.#process !== undefined && this.#process.exitCode === null && this.#process.signalCode === null;
  }

  /** Starts the server (again) on the same port and directory; resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.running) throw new Error("redis-server is running already");
    const child = spawn("redis-server", this.#args, { stdio: "ignore" });
    this.#process = child;
    await untilPong(this.port);
    // The PONG must be ours: another run's redis-server may hold the port, ours then exits.
    const pid = /process_id:(\d+)/.exec(await this.cli("info", "server"))?.[1];
    if (Number(pid) !== child.pid) throw new Error(`port ${this.port} is held by another redis-server (pid ${pid})`);
  }

  /** Sends `signal` (SIGKILL by default: no goodbye to the clients) and waits for the exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.#process;
    if (child === undefined || !this.running) return;
    const exited = once(child, "exit");
    child.kill(signal);
    await exited;
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered, until thawed (SIGCONT). */
  freeze(frozen: boolean): void {
    this.#process?.kill(frozen ? "SIGSTOP" : "SIGCONT");
  }

  /** Runs one command through redis-cli; resolves to its output, trimmed. */
  async cli(...args: string[]): Promise<string> {
    const { stdout } = await run("redis-cli", ["-h", HOST, "-p", String(this.port), ...args]);
    return stdout.trim();
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A Redis Cluster of private servers: masters, and replicas when asked for. */
export class RedisCluster {
  readonly nodes: readonly RedisServer[];

  private constructor(nodes: readonly RedisServer[]) {
    this.nodes = nodes;
  }

  /**
   * Starts `masters` servers in cluster mode, `replicas` more per master, and joins them
   * (`redis-cli --cluster create`); `args` are more redis-server options for every node.
   */
  static async start(masters = 3, options: { replicas?: number; args?: readonly string[] } = {}): Promise<RedisCluster> {
    const { replicas = 0, args = [] } = options;
    const nodes = await Promise.all(Array.from({ length: masters * (1 + replicas) }, () => RedisServer.start({ cluster: true, args })));
    const cluster = new RedisCluster(nodes);
    try {
      await run("redis-cli", ["--cluster", "create", ...nodes.map((n) => `${HOST}:${n.port}`), "--cluster-replicas", String(replicas), "--cluster-yes"]);
      for (const node of nodes) {
        for (let i = 0; !(await node.cli("cluster", "info")).includes("cluster_state:ok"); i++) {
          if (i > 250) throw new Error(`cluster node ${node.port} not ok after 5 s`);
          await sleep(20);
        }
      }
      // A replica that has not finished its first sync cannot take over from its master.
      for (const node of nodes) {
        for (let i = 0; /role:slave/.test(await node.cli("info", "replication")) && !/master_link_status:up/.test(await node.cli("info", "replication")); i++) {
          if (i > 500) throw new Error(`replica ${node.port} not in sync after 10 s`);
          await sleep(20);
        }
      }
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The seeds for REDIS_CLUSTER_NODES. */
  get seeds(): string {
    return this.nodes.map((n) => `${HOST}:${n.port}`).join(",");
  }

  /** The server that holds `key`'s slot. */
  async nodeOf(key: string): Promise<RedisServer> {
    const [first] = this.nodes;
    const slot = Number(await first!.cli("cluster", "keyslot", key));
    for (const node of this.nodes) {
      const ranges = await this.#ownSlots(node);
      if (ranges.some(([from, to]) => slot >= from && slot <= to)) return node;
    }
    throw new Error(`no node holds slot ${slot}`);
  }

  async #ownSlots(node: RedisServer): Promise<[number, number][]> {
    const myself = (await node.cli("cluster", "nodes")).split("\n").find((line) => line.includes("myself"));
    return (myself ?? "").split(" ").slice(8).filter((r) => /^\d/.test(r)).map((r) => {
      const [from, to = from] = r.split("-").map(Number);
      return [from!, to!];
    });
  }

  /** Stops every server and removes their directories. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
