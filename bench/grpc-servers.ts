import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import type { ServerMiddleware } from "nice-grpc";
import { KEYVALUE_PROTO } from "../lib/grpc/proto-files.js";
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
 * - host: the GrpcHost with bin/node's three middleware and a Scan handler, for the streaming
 *   row (KeyValue itself has no streaming handlers yet); bare's Scan sends the same stream.
 */
const mode = process.argv[2];
if (mode !== "bare" && mode !== "interceptors" && mode !== "nice-grpc" && mode !== "host") throw new Error("usage: grpc-servers.js bare|interceptors|nice-grpc|host");

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
};

/** The stream both Scan rows send: `limit` synthetic entries (the bench's stream, not KeyValue's semantics). */
function* entries(prefix: string, limit: number): Generator<{ key: string; value: string }> {
  for (let i = 0; i < limit; i++) yield { key: `${prefix}${i}`, value: "0123456789" };
}

/** bin/node's three middleware in the GrpcHost, with a Scan handler yielding the same stream. */
async function hostServer(): Promise<void> {
  const [{ Application }, { defineService, router }, { GrpcHost }, { keyValueService }, { logging }, { auth }, { rateLimit }] = await Promise.all([
    import("../lib/core/application.js"), import("../lib/core/service.js"), import("../lib/hosts/grpc/grpc-host.js"), import("../lib/key-value/key-value.js"),
    import("../middleware/logging.js"), import("../middleware/auth.js"), import("../middleware/rate-limit.js"),
  ]);
  const { logger } = createLogger({ level: "info" });
  const kv = keyValueService();
  const service = defineService("KeyValue", {
    ...kv.methods,
    Scan: (request: unknown) => (async function* scan() {
      const { prefix, limit } = request as { prefix: string; limit: number };
      yield* entries(prefix, limit);
    })(),
  });
  const app = new Application().use(logging({ logger })).use(auth({ tokens: ["valid_token"] })).use(rateLimit({ capacity: 1e9, refillPerSecond: 1e9 })).handle(router([service]));
  const host = new GrpcHost({ app, proto: KEYVALUE_PROTO, health: false, reflection: false });
  process.stdout.write(`port ${await host.listen("127.0.0.1:0")}\n`);
  process.once("SIGTERM", () => void host.shutdown({ graceMs: 0 }));
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
    ...Object.fromEntries(["Watch", "PutMany", "Batch"].map((name) => [name, () => Promise.reject(new nice.ServerError(nice.Status.UNIMPLEMENTED, name))])),
  } as never);
  const port = await server.listen("127.0.0.1:0");
  process.stdout.write(`port ${port}\n`);
  process.once("SIGTERM", () => void server.shutdown());
}

const definition = loadSync(KEYVALUE_PROTO, { keepCase: true, defaults: true });
const service = (grpc.loadPackageDefinition(definition) as unknown as { keyvalue: { v1: { KeyValue: { service: grpc.ServiceDefinition } } } }).keyvalue.v1.KeyValue.service;
if (mode === "nice-grpc") await niceServer(service);
else if (mode === "host") await hostServer();
else {
  const server = new grpc.Server(mode === "interceptors" ? { interceptors: interceptors() } : {});
  server.addService(service, handlers);
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error !== null) throw error;
    process.stdout.write(`port ${port}\n`);
  });
  process.once("SIGTERM", () => server.tryShutdown(() => undefined));
}
