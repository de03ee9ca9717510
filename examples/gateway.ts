/**
 * A gateway in front of a KeyValue node, to show tracing, metrics and propagation end to end:
 * `Gateway/Profile { user }` reads `profile/<user>` from KeyValue through the client pipeline.
 * The handler passes nothing by hand, yet the inner call carries the caller's deadline (what
 * is left of it), its cancellation, the trace (one trace: gateway span -> client span -> KeyValue
 * span) and the `x-user-id` and `x-request-id` metadata; the `authorization` of the gateway's
 * caller stays at the gateway (the gateway presents its own credentials).
 *
 * Both nodes run in this process here (InProcessTransport); with `spawnNode()` as the KeyValue
 * transport the same code calls a bin/node child. In another project the imports are
 * `from "rpc-interceptors"` and `"rpc-interceptors/client"`.
 */
import { pathToFileURL } from "node:url";
import { Application, auth, defineService, keyValueService, type KeyValueStore, MemoryStore, metrics, type Middleware, propagate, requestId, router, Status, StatusError, tracing } from "../index.js";
import { type Client, createClient, credentials, InProcessTransport, propagate as propagateOut, sleep, systemClock, tracing as tracingOut, type Transport } from "../client.js";

/** Options of {@link keyValueNode}. */
export interface KeyValueNodeOptions {
  /** The token the gateway presents. */
  readonly token: string;
  readonly store?: KeyValueStore;
  /** How long each call takes before it is answered, in ms (a slow backend); default 0. */
  readonly latencyMs?: number;
  /** Told of each call: the `x-user-id` it arrived with, and whether its caller cancelled it. */
  readonly onCall?: (seen: { readonly method: string; readonly userId: string | undefined; readonly aborted: boolean }) => void;
}

/** Waits `ms`, or fails the call with the signal's reason as soon as the caller gives up. */
function latency(ms: number): Middleware {
  return async function latency(ctx, next) {
    if (ms > 0) await sleep(systemClock, ms, ctx.signal).catch((reason: unknown) => Promise.reject(StatusError.from(reason)));
    await next();
  };
}

/** The KeyValue node behind the gateway: tracing -> metrics -> auth -> (latency) -> KeyValue. */
export function keyValueNode(options: KeyValueNodeOptions): Application {
  const onCall = options.onCall;
  const audit: Middleware = async function audit(ctx, next) {
    try {
      await next();
    } finally {
      onCall?.({ method: ctx.method, userId: ctx.metadata.get("x-user-id"), aborted: ctx.signal?.aborted ?? false });
    }
  };
  return new Application({ onError: () => {} })
    .use(tracing())
    .use(metrics())
    .use(audit)
    .use(auth({ tokens: [options.token] }))
    .use(latency(options.latencyMs ?? 0))
    .handle(router([keyValueService(options.store ?? new MemoryStore())]));
}

/** Options of {@link gateway}. */
export interface GatewayOptions {
  /** Where KeyValue is. */
  readonly keyValue: Transport;
  /** The token the gateway presents to KeyValue. */
  readonly keyValueToken: string;
  /** The tokens the gateway's own callers present. */
  readonly tokens: readonly string[];
}

/** The gateway: tracing -> metrics -> requestId -> propagate -> auth -> Gateway. Its KeyValue client: propagate -> tracing -> credentials. */
export function gateway(options: GatewayOptions): { readonly app: Application; readonly keyValue: Client } {
  const keyValue = createClient(options.keyValue)
    .use(propagateOut())
    .use(tracingOut())
    .use(credentials({ token: options.keyValueToken }));
  const service = defineService("Gateway", {
    async Profile(request: unknown) {
      const user = (request as { user?: unknown } | null)?.user;
      if (typeof user !== "string" || user === "") throw new StatusError(Status.INVALID_ARGUMENT, "user must be a non-empty string");
      const { status, response, error } = await keyValue.call("KeyValue", "Get", { key: `profile/${user}` });
      if (status === Status.NOT_FOUND) throw new StatusError(Status.NOT_FOUND, `no profile for ${user}`);
      if (status !== Status.OK) throw new StatusError(status, error?.message ?? status);
      return { user, profile: (response as { value: string }).value };
    },
  });
  const app = new Application({ onError: () => {} })
    .use(tracing())
    .use(metrics())
    .use(requestId())
    .use(propagate({ metadata: ["x-user-id", "x-request-id"] }))
    .use(auth({ tokens: options.tokens }))
    .handle(router([service]));
  return { app, keyValue };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Prints each span as it ends; run with `node dist/examples/gateway.js`.
  const { NodeTracerProvider, SimpleSpanProcessor, ConsoleSpanExporter } = await import("@opentelemetry/sdk-trace-node");
  new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] }).register();
  const store = new MemoryStore();
  store.set("profile/ada", "Ada Lovelace");
  const kv = keyValueNode({ token: "gateway-token", store, latencyMs: 20, onCall: (seen) => console.log("KeyValue saw", seen) });
  const { app } = gateway({ keyValue: new InProcessTransport(kv, { peer: "gateway" }), keyValueToken: "gateway-token", tokens: ["user-token"] });
  const caller = createClient(new InProcessTransport(app, { peer: "browser" }));
  const metadata = { authorization: "Bearer user-token", "x-user-id": "ada" };
  console.log(await caller.call("Gateway", "Profile", { user: "ada" }, { metadata, timeoutMs: 1000 }));
  console.log(await caller.call("Gateway", "Profile", { user: "ada" }, { metadata, timeoutMs: 5 }));
}
