import { NodeProcess } from "./node-process.js";

/** A `bin/node --listen 127.0.0.1:0` child and the address it serves gRPC on. */
export interface GrpcNode {
  readonly node: NodeProcess;
  readonly target: string;
}

/**
 * Starts bin/node in gRPC mode on a free port and waits (at most `timeoutMs`) for its
 * "serving gRPC" log line, which names the port.
 */
export async function startGrpcNode(env: Record<string, string> = {}, timeoutMs = 10_000): Promise<GrpcNode> {
  const node = NodeProcess.start({ args: ["--listen", "127.0.0.1:0"], env });
  const end = Date.now() + timeoutMs;
  for (;;) {
    const serving = node.logRecords.find((record) => record["msg"] === "serving gRPC");
    if (serving !== undefined) return { node, target: `127.0.0.1:${String(serving["port"])}` };
    if (node.closed || Date.now() > end) {
      if (!node.closed) node.kill("SIGKILL");
      throw new Error(`bin/node --listen did not start serving: ${node.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
