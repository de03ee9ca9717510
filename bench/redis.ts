import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";

/** A private redis-server on a free port: never the machine's own Redis on 6379. */
export interface PrivateRedis {
  readonly url: string;
  /** Deletes every key, so that each run starts from the same state. */
  flush(): Promise<void>;
  /** Commands the server has processed so far (INFO stats): whether a run used it at all. */
  commands(): Promise<number>;
  /** Stops the server; safe to call more than once. */
  stop(): Promise<void>;
}

/** Whether a `redis-server` binary is on the PATH. */
export function haveRedisServer(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Sends one inline command and resolves with the reply's first line (e.g. "+PONG"), or, when
 * `until` is given, with the reply up to the end of the line that contains it.
 */
function command(port: number, text: string, until?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    socket.once("error", reject);
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      const from = until === undefined ? 0 : reply.indexOf(until);
      const end = from === -1 ? -1 : reply.indexOf("\r\n", from);
      if (end !== -1) {
        socket.destroy();
        resolve(reply.slice(0, end));
      }
    });
    socket.write(`${text}\r\n`);
  });
}

/** Starts redis-server without persistence on a free port and waits until it answers PING. */
export async function startRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const server: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      if ((await command(port, "PING")) === "+PONG") break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline || server.exitCode !== null) {
      server.kill("SIGTERM");
      throw new Error(`redis-server on port ${port} did not start`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async flush() {
      const reply = await command(port, "FLUSHALL");
      if (reply !== "+OK") throw new Error(`FLUSHALL answered ${reply}`);
    },
    async commands() {
      const match = /total_commands_processed:(\d+)/.exec(await command(port, "INFO stats", "total_commands_processed:"));
      return Number(match?.[1]);
    },
    async stop() {
      if (server.exitCode === null && server.signalCode === null) server.kill("SIGTERM");
      await exited;
    },
  };
}
