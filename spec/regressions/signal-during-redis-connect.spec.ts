import { expect } from "chai";
import { createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { nodesKilledAfterEach } from "../support/node-process.js";

// bin/node waits up to about a second for Redis at start. Its signal handlers were installed
// only after that wait, so a SIGTERM during it killed the process by the default action: no
// log line, exit by signal.

/**
 * A TCP server that accepts connections and never answers: a Redis that hangs at connect.
 * `connected` resolves at the first connection: the node is in its connect wait then.
 */
async function silentServer(): Promise<{ server: Server; port: number; sockets: Set<Socket>; connected: Promise<void> }> {
  const sockets = new Set<Socket>();
  let markConnected!: () => void;
  const connected = new Promise<void>((resolve) => (markConnected = resolve));
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    markConnected();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port, sockets, connected };
}

describe("regression: SIGTERM during the Redis connect wait at start killed bin/node with no log line", function () {
  this.timeout(20_000);
  const start = nodesKilledAfterEach();

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} while Redis does not answer at start: one log line, exit 0, nothing read`, async () => {
      const silent = await silentServer();
      try {
        const node = start({ REDIS_URL: `redis://127.0.0.1:${silent.port}`, LOG_LEVEL: "info" });
        await silent.connected; // inside the connect wait (about a second)
        node.kill(signal);
        expect(await node.exited(5000)).to.deep.equal({ code: 0, signal: null });
        const messages = node.logRecords.map((r) => r["msg"]);
        expect(messages).to.include("signal while connecting to Redis; stopping when the wait ends");
        expect(node.logRecords.find((r) => r["msg"] === "stopped")).to.deep.include({ reason: signal, lines: 0, calls: 0 });
        expect(node.stdout).to.equal("");
      } finally {
        for (const socket of silent.sockets) socket.destroy();
        silent.server.close();
      }
    });
  }

  it("a second signal during the wait forces the exit", async () => {
    const silent = await silentServer();
    try {
      const node = start({ REDIS_URL: `redis://127.0.0.1:${silent.port}`, LOG_LEVEL: "info" });
      await silent.connected;
      node.kill("SIGTERM");
      await sleep(100);
      node.kill("SIGTERM");
      expect(await node.exited(5000)).to.deep.equal({ code: 143, signal: null });
    } finally {
      for (const socket of silent.sockets) socket.destroy();
      silent.server.close();
    }
  });
});
