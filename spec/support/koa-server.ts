import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Koa from "koa";
import { pino } from "pino";
import type { Logger } from "../../index.js";

/** A Koa app listening on a free port of 127.0.0.1; `close()` ends it and its keep-alive sockets. */
export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

export async function serve(app: Koa): Promise<Served> {
  const server: Server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A real pino logger at `level` whose JSON lines are kept in `lines` (raw) for the specs to read. */
export function capturedLogger(level = "debug"): { logger: Logger; lines: string[]; records(): Record<string, unknown>[] } {
  const lines: string[] = [];
  // A destination with a synchronous write(): a line is kept before the response is sent.
  const sink = { write: (text: string): void => void lines.push(...text.split("\n").filter((line) => line !== "")) };
  const logger = pino({ level }, sink);
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}
