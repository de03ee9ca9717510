import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import type { ServerMiddleware } from "nice-grpc";
import { KEYVALUE_PROTO } from "../lib/grpc/proto-files.js";
import { compareUtf8 } from "../lib/key-value/store.js";
import { TokenBucket } from "../lib/limiters/token-bucket.js";
import { createLogger } from "../lib/logging/logger.js";

/**
 * The comparison servers of the gRPC bench, one per process so that /proc shows each one's CPU
 * alone: `node dist/bench/grpc-servers.js bare|interceptors|nice-grpc`. Both serve KeyValue of
 * proto/keyvalue.proto from a Map and print `port N` on stdout once listening; SIGTERM stops them.
 *
 * - bare: the handlers only, no middleware of any kind (the floor).
 * - interceptors: grpc-js's own server interceptors doing what bin/node's three middleware do:
 *   a pino line per call (status, ms) on stderr, a bearer-token check, a token bucket per caller
 *   address (the project's TokenBucket, limits too high to refuse).
 * - nice-grpc: nice-grpc's async-generator server middleware doing the same three things.
 *
 * Each also serves Scan as proto/keyvalue.proto says (the Map's keys under the prefix, in
 * UTF-8 byte order, the first `limit`) and PutMany, for the streaming row.
 */
const mode = process.argv[2];
if (mode !== "bare" && mode !== "interceptors" && mode !== "nice-grpc") throw new Error("usage: grpc-servers.js bare|interceptors|nice-grpc");

type Request = { key: string; value: string };
const data = new Map<string, string>();
const handlers: grpc.UntypedServiceImplementation = {
  Get(call: grpc.ServerUnaryCall<Request, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const value = data.get(call.request.key);
    if (value === undefined) callback({ code: grpc.status.NOT_FOUND, details: "NOT_FOUND" });
    else callback(null, { key: call.request.key, value, found: true });
  },
  Put(call: grpc.ServerUnaryCall<Request, unknown>, callback: grpc.sendUnaryData<unknown>) {
    data.set(call.request.key, call.request.value);
    callback(null, { written: true });
  },
  Delete(call: grpc.ServerUnaryCall<Request, unknown>, callback: grpc.sendUnaryData<unknown>) {
    callback(null, { key: call.request.key, deleted: data.delete(call.request.key) });
  },
  async Scan(call: grpc.ServerWritableStream<{ prefix: string; limit: number }, unknown>) {
    for (const entry of entries(call.request.prefix, call.request.limit)) {
      if (!call.write(entry)) await new Promise((resolve) => call.once("drain", resolve));
      if (call.cancelled) return;
    }
    call.end();
  },
  PutMany(call: grpc.ServerReadableStream<Request, unknown>, callback: grpc.sendUnaryData<unknown>) {
    let written = 0;
    call.on("data", (request: Request) => {
      data.set(request.key, request.value);
      written++;
    });
    call.on("end", () => callback(null, { written }));
  },
};

/** Scan's entries from the Map: keys under `prefix` in UTF-8 byte order, the first `limit` (0: all). */
function* entries(prefix: string, limit: number): Generator<{ key: string; value: string }> {
  const keys = [...data.keys()].filter((key) => key.startsWith(prefix)).sort(compareUtf8);
  for (const key of limit === 0 ? keys : keys.slice(0, limit)) {
    const value = data.get(key);
    if (value !== undefined) yield { key, value };
  }
}

function interceptors(): grpc.ServerInterceptor[] {
  const { logger } = createLogger({ level: "info" });
  const tokens = new Set(["Bearer valid_token"]);
  const bucket = new TokenBucket({ capacity: 1e9, refillPerSecond: 1e9 });
  const interceptor: grpc.ServerInterceptor = (method, call) => {
    const start = performance.now();
    const peer = call.getPeer();
    const client = peer.slice(0, peer.lastIndexOf(":"));
    const path = method.path;
    const intercepted: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, pass) {
            const authorization = metadata.get("authorization")[0];
            if (typeof authorization !== "string" || !tokens.has(authorization)) {
              intercepted.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: "unknown bearer token" });
              return;
            }
            try {
              bucket.consumeSync(client, 1);
            } catch {
              intercepted.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: "rate limit exceeded" });
              return;
            }
            pass(metadata);
          },
        });
      },
      sendStatus(status, next) {
        logger.info({ path, client, status: grpc.status[status.code], ms: Math.round((performance.now() - start) * 1000) / 1000 }, "call");
        next(status);
      },
    });
    return intercepted;
  };
  return [interceptor];
}

/** The same work as nice-grpc middleware, on nice-grpc's own server. */
async function niceServer(service: grpc.ServiceDefinition): Promise<void> {
  const nice = await import("nice-grpc");
  const { logger } = createLogger({ level: "info" });
  const tokens = new Set(["Bearer valid_token"]);
  const bucket = new TokenBucket({ capacity: 1e9, refillPerSecond: 1e9 });
  const logging: ServerMiddleware = async function* logging(call, context) {
    const start = performance.now();
    let status = "OK";
    try {
      return yield* call.next(call.request, context);
    } catch (error) {
      status = error instanceof nice.ServerError ? nice.Status[error.code] : "UNKNOWN";
      throw error;
    } finally {
      logger.info({ path: call.method.path, client: context.peer, status, ms: Math.round((performance.now() - start) * 1000) / 1000 }, "call");
    }
  };
  const auth: ServerMiddleware = async function* auth(call, context) {
    if (!tokens.has(context.metadata.get("authorization") ?? "")) throw new nice.ServerError(nice.Status.UNAUTHENTICATED, "unknown bearer token");
    return yield* call.next(call.request, context);
  };
  const rateLimit: ServerMiddleware = async function* rate_limit(call, context) {
    try {
      bucket.consumeSync(context.peer.slice(0, context.peer.lastIndexOf(":")), 1);
    } catch {
      throw new nice.ServerError(nice.Status.RESOURCE_EXHAUSTED, "rate limit exceeded");
    }
    return yield* call.next(call.request, context);
  };
  const server = nice.createServer().use(logging).use(auth).use(rateLimit);
  server.add(service as never, {
    async *Scan(request: { prefix: string; limit: number }) {
      yield* entries(request.prefix, request.limit);
    },
    async PutMany(requests: AsyncIterable<Request>) {
      let written = 0;
      for await (const request of requests) {
        data.set(request.key, request.value);
        written++;
      }
      return { written };
    },
    async Get(request: Request) {
      const value = data.get(request.key);
      if (value === undefined) throw new nice.ServerError(nice.Status.NOT_FOUND, "NOT_FOUND");
      return { key: request.key, value, found: true };
    },
    async Put(request: Request) {
      data.set(request.key, request.value);
      return { written: true };
    },
    async Delete(request: Request) {
      return { key: request.key, deleted: data.delete(request.key) };
    },
    // nice-grpc wants every method of the service implemented.
    ...Object.fromEntries(["Watch", "Batch"].map((name) => [name, () => Promise.reject(new nice.ServerError(nice.Status.UNIMPLEMENTED, name))])),
  } as never);
  const port = await server.listen("127.0.0.1:0");
  process.stdout.write(`port ${port}\n`);
  process.once("SIGTERM", () => void server.shutdown());
}

const definition = loadSync(KEYVALUE_PROTO, { keepCase: true, defaults: true });
const service = (grpc.loadPackageDefinition(definition) as unknown as { keyvalue: { v1: { KeyValue: { service: grpc.ServiceDefinition } } } }).keyvalue.v1.KeyValue.service;
if (mode === "nice-grpc") await niceServer(service);
else {
  const server = new grpc.Server(mode === "interceptors" ? { interceptors: interceptors() } : {});
  server.addService(service, handlers);
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error !== null) throw error;
    process.stdout.write(`port ${port}\n`);
  });
  process.once("SIGTERM", () => server.tryShutdown(() => undefined));
}
