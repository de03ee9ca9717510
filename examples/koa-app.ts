/**
 * A Koa 3 app guarded by the library's own middleware, mounted unchanged:
 * logging -> auth -> rateLimit, then a small key-value API over HTTP.
 *
 *   npm run build && node dist/examples/koa-app.js        # PORT (3000), TOKENS (valid_token)
 *   curl -i localhost:3000/kv/greeting                     # 401, WWW-Authenticate: Bearer
 *   curl -i -X PUT -H 'Authorization: Bearer valid_token' --data hello localhost:3000/kv/greeting
 *   curl -i -H 'Authorization: Bearer valid_token' localhost:3000/kv/greeting   # 200, RateLimit-* headers
 *   curl -i localhost:3000/health                          # 200 without a token: a public method
 *
 * In another project the import is `from "rpc-interceptors"`; here it is the source itself.
 */
import type { Server } from "node:http";
import { pathToFileURL } from "node:url";
import Koa from "koa";
import { auth, type Logger, logging, MemoryStore, rateLimit, Status, StatusError } from "../index.js";

/** Options of {@link createKoaApp}. */
export interface KoaAppOptions {
  /** Accepted bearer tokens. Default `["valid_token"]`. */
  readonly tokens?: readonly string[];
  /** Requests per client in a burst. Default 10. */
  readonly capacity?: number;
  /** Requests per client per second, sustained. Default 10. */
  readonly refillPerSecond?: number;
  /** Where the request lines go; default pino on stderr. */
  readonly logger?: Logger;
  /** Koa's `proxy`: trust X-Forwarded-For for `ctx.ip`, so for the rate limit. Default false. */
  readonly proxy?: boolean;
}

const MAX_BODY_BYTES = 64 * 1024;

async function readText(ctx: Koa.Context): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new StatusError(Status.INVALID_ARGUMENT, `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A path segment's key; a malformed percent-escape (`/kv/%E0%A4%A`) is the client's error: 400. */
function decodedKey(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new StatusError(Status.INVALID_ARGUMENT, "the key is not a valid percent-encoded path segment");
  }
}

/**
 * The example app, not yet listening: `GET /health` (public), `GET /whoami`, `GET /kv/:key`,
 * `PUT /kv/:key` (body: the value as text). A missing key is a StatusError NOT_FOUND, which Koa
 * answers with 404 through the same google.rpc.Code mapping the middleware failures use.
 */
export function createKoaApp(options: KoaAppOptions = {}): Koa {
  const store = new MemoryStore();
  const app = new Koa({ proxy: options.proxy ?? false });
  app.use(logging(options.logger === undefined ? {} : { logger: options.logger }));
  app.use(auth({ tokens: options.tokens ?? ["valid_token"], publicMethods: "health/*" }));
  app.use(rateLimit({ capacity: options.capacity ?? 10, refillPerSecond: options.refillPerSecond ?? 10 }));
  app.use(async function routes(ctx) {
    const [, resource = "", key, extra] = ctx.path.split("/");
    if (resource === "health" && ctx.method === "GET") {
      ctx.body = { ok: true };
    } else if (resource === "whoami" && ctx.method === "GET") {
      ctx.body = { subject: ctx.state["principal"]?.subject };
    } else if (resource === "kv" && key !== undefined && key !== "" && extra === undefined) {
      const name = decodedKey(key);
      if (ctx.method === "GET") {
        const value = store.get(name);
        if (value === undefined) throw new StatusError(Status.NOT_FOUND, `no key ${JSON.stringify(name)}`);
        ctx.body = { key: name, value };
      } else if (ctx.method === "PUT") {
        store.set(name, await readText(ctx));
        ctx.body = { written: true };
      } else {
        ctx.set("Allow", "GET, PUT");
        ctx.status = 405;
      }
    }
  });
  return app;
}

/** Starts the example on `port` (0: any free port); resolves once it is listening. */
export function listen(app: Koa, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port);
    server.once("listening", () => resolve(server));
    server.once("error", reject);
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tokens = process.env["TOKENS"]?.split(",").filter((t) => t !== "");
  const server = await listen(createKoaApp(tokens === undefined ? {} : { tokens }), Number(process.env["PORT"] ?? 3000));
  const address = server.address();
  process.stderr.write(`listening on ${typeof address === "object" && address !== null ? `http://localhost:${address.port}` : address}\n`);
  const close = (): void => void server.close();
  process.once("SIGINT", close);
  process.once("SIGTERM", close);
}
