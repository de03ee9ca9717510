import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { StdioTransport, type StdioTransportOptions } from "./stdio-transport.js";

/** Options of {@link spawnNode}. */
export interface SpawnNodeOptions extends Omit<StdioTransportOptions, "input" | "output"> {
  /** The program to run; default this package's bin/node, run by the current Node binary. */
  readonly command?: string;
  /** Its arguments; default none (with the default command: the path of bin/node). */
  readonly args?: readonly string[];
  /** Its environment; default this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where its stderr (bin/node's logs) goes. Default "inherit". */
  readonly stderr?: "inherit" | "ignore";
}

/** How the child ended. */
export interface NodeExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** bin/node (from dist/lib/client/transports/ up to the package root). */
const BIN_NODE = fileURLToPath(new URL("../../../../bin/node", import.meta.url));

/** A {@link StdioTransport} to a child process it owns: `close()` also waits for the child to exit. */
export class NodeProcessTransport extends StdioTransport {
  readonly child: ChildProcess;
  /** Resolves when the child has exited and its streams have closed. */
  readonly exited: Promise<NodeExit>;

  constructor(child: ChildProcess, options: Omit<StdioTransportOptions, "input" | "output">) {
    if (child.stdout === null || child.stdin === null) throw new TypeError("NodeProcessTransport: the child needs piped stdin and stdout");
    super({ ...options, input: child.stdout, output: child.stdin });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once("close", (code, signal) => resolve({ code, signal }));
      child.once("error", (error) => {
        this.destroy(`cannot run the node: ${error.message}`);
        resolve({ code: null, signal: null });
      });
    });
  }

  /** Ends the child's input; resolves once it has answered what it read and exited. */
  override async close(): Promise<void> {
    await super.close();
    await this.exited;
  }

  /** Stops now, and sends the child SIGTERM. */
  override destroy(reason?: string): void {
    super.destroy(reason);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
  }
}

/**
 * Starts a node (bin/node by default) as a child process and connects to it over its
 * stdin/stdout.
 *
 * @example
 *   const transport = spawnNode({ env: { ...process.env, RATE_LIMIT_CAPACITY: "1000" }, stderr: "ignore" });
 *   const client = createClient(transport).use(credentials({ token: "valid_token" }));
 *   // ...
 *   await client.close(); // the node answers what it has, exits, and nothing is left open
 */
export function spawnNode(options: SpawnNodeOptions = {}): NodeProcessTransport {
  const { command, args, env, stderr, ...transportOptions } = options;
  const program = command ?? process.execPath;
  const argv = args ?? (command === undefined ? [BIN_NODE] : []);
  const child = spawn(program, [...argv], { env: env ?? process.env, stdio: ["pipe", "pipe", stderr ?? "inherit"] });
  return new NodeProcessTransport(child, transportOptions);
}
