import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { KEYVALUE_PROTO } from "../lib/grpc/proto-files.js";
import { TokenBucket } from "../lib/limiters/token-bucket.js";
import { createLogger } from "../lib/logging/logger.js";

/**
 * The comparison servers of the gRPC bench, one per process so that /proc shows each one's CPU
 * alone: `node dist/bench/grpc-servers.js bare|interceptors`. Both serve KeyValue of
 * proto/keyvalue.proto from a Map and print `port N` on stdout once listening; SIGTERM stops them.
 *
 * - bare: the handlers only, no middleware of any kind (the floor).
 * - interceptors: grpc-js's own server interceptors doing what bin/node's three middleware do:
 *   a pino line per call (status, ms) on stderr, a bearer-token check, a token bucket per caller
 *   address (the project's TokenBucket, limits too high to refuse).
 */
const mode = process.argv[2];
if (mode !== "bare" && mode !== "interceptors") throw new Error("usage: grpc-servers.js bare|interceptors");

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
};

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

const definition = loadSync(KEYVALUE_PROTO, { keepCase: true, defaults: true });
const service = (grpc.loadPackageDefinition(definition) as unknown as { keyvalue: { v1: { KeyValue: { service: grpc.ServiceDefinition } } } }).keyvalue.v1.KeyValue.service;
const server = new grpc.Server(mode === "interceptors" ? { interceptors: interceptors() } : {});
server.addService(service, handlers);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error !== null) throw error;
  process.stdout.write(`port ${port}\n`);
});
process.once("SIGTERM", () => server.tryShutdown(() => undefined));
