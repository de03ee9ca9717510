import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** A listening `/metrics` endpoint. */
export interface MetricsServer {
  /** The address it listens on (the real port when asked for port 0). */
  readonly address: AddressInfo;
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

/** The host and port of `host:port` (`[::1]:9464` for IPv6), as the configuration checked it. */
function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(address.slice(colon + 1)) };
}

/**
 * Serves `GET /metrics` (and `HEAD`) from `registry` in the Prometheus text format on
 * `address` (`host:port`; port 0 picks a free one), with node:http and nothing else; any other
 * path is 404, any other method 405.
 * Neither the server nor its connections hold the process open: a node that has finished its
 * work exits.
 *
 * @example
 *   const server = await serveMetrics(register, "127.0.0.1:9464");
 */
export async function serveMetrics(registry: Registry, address: string): Promise<MetricsServer> {
  const { host, port } = hostAndPort(address);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found; try /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(req.method === "HEAD" ? undefined : text),
      (error: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`${error instanceof Error ? error.message : String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Neither the server nor a scraper's keep-alive connection holds the process open.
  server.unref();
  server.on("connection", (socket) => socket.unref());
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
