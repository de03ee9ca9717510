import {
  type ChannelOptions,
  Server,
  type ServerCredentials,
  ServerCredentials as Credentials,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type UntypedServiceImplementation,
  Metadata as GrpcMetadata,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { HealthImplementation, protoPath as HEALTH_PROTO } from "grpc-health-check";
import { ReflectionService } from "@grpc/reflection";
import type { Application } from "../../core/application.js";
import { streamsRequests } from "../../core/call-kind.js";
import { type CallLimits, DEFAULT_CALL_LIMITS } from "../../core/limits.js";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import { LOADER_OPTIONS, loadServices, type ServiceInfo } from "../../grpc/services.js";
import type { Logger } from "../../logging/logger.js";
import { failureOf, statusOf, type WireStatus } from "./answer.js";
import { CallWatch, SHUTTING_DOWN } from "./call-watch.js";
import { GrpcCallContext, type MethodKind } from "./grpc-call-context.js";
import { addressWithoutPort, incomingMetadata, incomingOverLimits } from "./incoming.js";
import { readAll, sender } from "./message-streams.js";

/** Receives host events and what went wrong outside the pipeline (a response stream that failed). */
export type GrpcHostLogger = Pick<Logger, "info" | "warn" | "error">;

/** Options of {@link GrpcHost}. */
export interface GrpcHostOptions {
  /** What serves the calls: every call of every service in `proto` runs through `app.run()`. */
  readonly app: Pick<Application, "run">;
  /** The .proto file(s) whose services are served; imports resolve against their folder and the package's proto/. */
  readonly proto: string | readonly string[];
  /** Metadata limits, checked before a call enters the pipeline (RESOURCE_EXHAUSTED). Default 64 entries of 8 KiB. */
  readonly limits?: CallLimits;
  /** grpc-js server options, over {@link DEFAULT_SERVER_OPTIONS}. */
  readonly serverOptions?: ChannelOptions;
  /** Serve grpc.health.v1.Health (no token needed). Default true. */
  readonly health?: boolean;
  /** Serve grpc.reflection v1 and v1alpha (no token needed). Default true. */
  readonly reflection?: boolean;
  /** Where host events and failures outside the pipeline go. Default: nowhere but stderr for faults. */
  readonly logger?: GrpcHostLogger;
}

/** Options of {@link GrpcHost.shutdown}. */
export interface ShutdownOptions {
  /** How long calls in flight may take to finish before the open ones are ended UNAVAILABLE. Default 5000. */
  readonly graceMs?: number;
}

/**
 * grpc-js server options of the host. Keepalive: every connection is pinged every 30 s
 * (answered within 10 s or closed), more often than the 60 s idle timeout of common proxies and
 * load balancers, so they do not cut an idle one. Messages up to 4 MiB each way (gRPC's default, stated):
 * a larger one is refused RESOURCE_EXHAUSTED by grpc-js before any middleware; KeyValue's own
 * limits (1 MiB values) answer INVALID_ARGUMENT below that.
 */
export const DEFAULT_SERVER_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.max_receive_message_length": 4 * 1024 * 1024,
  "grpc.max_send_message_length": 4 * 1024 * 1024,
});

/** After the grace period's aborts, how long open calls get to send their UNAVAILABLE before connections are cut. */
const FORCE_AFTER_ABORT_MS = 1000;

function kindOf(method: { requestStream: boolean; responseStream: boolean }): MethodKind {
  if (method.requestStream) return method.responseStream ? "bidi" : "client_stream";
  return method.responseStream ? "server_stream" : "unary";
}

/** One method as the host serves it. */
interface Route {
  readonly service: ServiceInfo;
  readonly method: string;
  readonly path: string;
  readonly kind: MethodKind;
}

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerReadableStream<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>;

/**
 * A gRPC server (HTTP/2 + protobuf, @grpc/grpc-js) for an {@link Application}: every method of
 * the services in `proto` becomes a {@link GrpcCallContext} run through the application's
 * middleware and handler, exactly as the stdio host runs its calls. `ctx.service` is the short
 * service name ("KeyValue" for /keyvalue.v1.KeyValue/Get), so selectors and routers are the same
 * in every host; two served services with one short name are refused at construction.
 *
 * Unary and client-streaming methods answer with `ctx.response` (a client stream arrives as an
 * AsyncIterable `ctx.request`); server-streaming and bidi methods send each message of the
 * handler's stream as the core hands it over, with back-pressure (see {@link sender}), while
 * `app.run()` runs, so `await next()` spans the stream. Beside
 * the services it serves grpc.health.v1 and server reflection, outside the application (no
 * token). {@link shutdown} stops it gracefully.
 *
 * @example
 *   const host = new GrpcHost({ app, proto: KEYVALUE_PROTO });
 *   const port = await host.listen("127.0.0.1:0");
 *   // ...
 *   await host.shutdown({ graceMs: 5000 });
 */
export class GrpcHost {
  readonly #app: Pick<Application, "run">;
  readonly #limits: CallLimits;
  readonly #logger: GrpcHostLogger | undefined;
  readonly #server: Server;
  readonly #health: HealthImplementation | undefined;
  readonly #services: readonly ServiceInfo[];
  /** The calls open now, by the watch that can cancel each: what shutdown aborts. */
  readonly #open = new Set<CallWatch>();
  #shutdown: Promise<void> | undefined;

  constructor(options: GrpcHostOptions) {
    if (options === null || typeof options !== "object" || typeof options.app?.run !== "function") throw new TypeError("GrpcHost: options.app must be an Application");
    const files = typeof options.proto === "string" ? [options.proto] : [...(options.proto ?? [])];
    this.#app = options.app;
    this.#limits = options.limits ?? DEFAULT_CALL_LIMITS;
    this.#logger = options.logger;
    this.#services = loadServices(files).services;
    if (this.#services.length === 0) throw new TypeError(`GrpcHost: no service in ${files.join(", ")}`);
    const seen = new Map<string, string>();
    for (const service of this.#services) {
      const other = seen.get(service.name);
      if (other !== undefined) throw new TypeError(`GrpcHost: ${other} and ${service.fullName} have the same short name ${service.name}; serve them from two hosts`);
      seen.set(service.name, service.fullName);
    }
    this.#server = new Server({ ...DEFAULT_SERVER_OPTIONS, ...options.serverOptions });
    for (const service of this.#services) this.#server.addService(service.definition, this.#implementation(service));
    if (options.health !== false) {
      this.#health = new HealthImplementation(Object.fromEntries([["", "SERVING"], ...this.#services.map((s) => [s.fullName, "SERVING"])]));
      this.#health.addToServer(this.#server);
    }
    if (options.reflection !== false) {
      // Reflection describes the health service too, so that `grpcurl list` shows everything served.
      const described = options.health !== false ? [...files, HEALTH_PROTO] : files;
      new ReflectionService(loadSync(described, { ...LOADER_OPTIONS })).addToServer(this.#server);
    }
  }

  /** Full names of the services served from the .proto ("keyvalue.v1.KeyValue"). */
  get services(): readonly string[] {
    return this.#services.map((service) => service.fullName);
  }

  /** Calls the host has open (in the pipeline, or streaming). */
  get openCalls(): number {
    return this.#open.size;
  }

  /**
   * Binds `address` ("127.0.0.1:50051", "[::]:0"; port 0 picks a free one) and starts serving;
   * resolves with the port bound. Plaintext unless `credentials` say otherwise.
   */
  listen(address: string, credentials: ServerCredentials = Credentials.createInsecure()): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, credentials, (error, port) => (error === null ? resolve(port) : reject(error)));
    });
  }

  /**
   * Stops gracefully: health answers NOT_SERVING (a Watch sees it at once), the server takes no
   * new calls or connections, and calls in flight may finish for `graceMs`; then every call
   * still open has its `ctx.signal` aborted with UNAVAILABLE, open streams are ended UNAVAILABLE,
   * and a second later whatever is left is cut. Resolves once the server has stopped; calling it
   * again returns the same promise.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const graceMs = options.graceMs ?? 5000;
    if (!Number.isFinite(graceMs) || graceMs < 0) throw new RangeError("shutdown(): graceMs must be a finite number >= 0");
    this.#shutdown ??= new Promise<void>((resolve) => {
      this.#health?.setStatus("", "NOT_SERVING");
      for (const service of this.#services) this.#health?.setStatus(service.fullName, "NOT_SERVING");
      let force: NodeJS.Timeout | undefined;
      const grace = setTimeout(() => {
        if (this.#open.size > 0) this.#logger?.warn({ open: this.#open.size, graceMs }, "grace period over; ending open calls UNAVAILABLE");
        for (const watch of this.#open) watch.abort(SHUTTING_DOWN());
        force = setTimeout(() => this.#server.forceShutdown(), FORCE_AFTER_ABORT_MS);
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(grace);
        clearTimeout(force);
        resolve();
      });
    });
    return this.#shutdown;
  }

  #implementation(service: ServiceInfo): UntypedServiceImplementation {
    const implementation: UntypedServiceImplementation = {};
    for (const [method, definition] of Object.entries(service.definition)) {
      const route: Route = { service, method, path: definition.path, kind: kindOf(definition) };
      implementation[method] = ((call: AnyCall, callback?: sendUnaryData<unknown>) => this.#serve(call, callback, route)) as UntypedServiceImplementation[string];
    }
    return implementation;
  }

  /**
   * Makes the call's context, runs it through the application and answers: with `callback`
   * for unary and client-streaming methods, on the call's stream for the others.
   */
  #serve(call: AnyCall, callback: sendUnaryData<unknown> | undefined, route: Route): void {
    const { service, method, kind } = route;
    const incoming = incomingMetadata(call.metadata);
    const over = incomingOverLimits(incoming, this.#limits);
    const address = call.getPeer();
    if (over !== undefined) {
      this.#logger?.warn({ service: service.name, method, client: address, limit: over }, "call refused: metadata over the limits");
      const refusal = statusOf(new StatusError(Status.RESOURCE_EXHAUSTED, `metadata over the limits: ${over}`), undefined);
      if (callback === undefined) this.#refuse(call, refusal);
      else callback(refusal, null);
      return;
    }
    const streamsResponse = callback === undefined;
    let headersSent = false;
    // For a streamed response: before the first message, or earlier when the handler says so.
    const sendHeaders = (): void => {
      if (headersSent || !streamsResponse) return;
      headersSent = true;
      const headers = ctx.responseHeadersIfAny;
      call.sendMetadata(headers ?? new GrpcMetadata());
    };
    const ctx: GrpcCallContext = new GrpcCallContext({
      service: service.name,
      method,
      request: streamsRequests(kind) ? undefined : (call as ServerUnaryCall<unknown, unknown>).request,
      metadata: incoming.text,
      peer: addressWithoutPort(address),
      package: service.packageName,
      path: route.path,
      address,
      kind,
      binaryMetadata: incoming.binary,
      sendHeaders,
    });
    if (streamsRequests(kind)) ctx.request = readAll(call as ServerReadableStream<unknown, unknown>, ctx.signal);
    // Cancels go to ctx.cancel(): no signal is made for a call that nothing cuts short, and a
    // unary call without a deadline takes the core's shortest path.
    const watch = new CallWatch(call, call.getDeadline(), (reason) => ctx.cancel(reason));
    this.#open.add(watch);
    const finish = (): void => {
      watch.release();
      this.#open.delete(watch);
    };
    const failed = (error: unknown): void => {
      finish();
      this.#logger?.error({ err: error, service: ctx.service, method }, "answering the call failed");
    };
    if (callback !== undefined) {
      this.#app.run(ctx).then(() => {
        this.#answerOnce(call, ctx, callback);
        finish();
      }).catch(failed);
      return;
    }
    // A streamed response goes out message by message while the pipeline runs (the core pulls
    // the next one once the last is written), so `await next()` spans the whole stream.
    const stream = call as ServerWritableStream<unknown, unknown>;
    this.#app.run(ctx, sender(stream, sendHeaders)).then(() => {
      if (ctx.responseHeadersIfAny !== undefined) sendHeaders(); // else they go with the status
      this.#endStream(stream, ctx);
      finish();
    }).catch(failed);
  }

  /** Ends a server-streaming or bidi call with `status`. */
  #refuse(call: AnyCall, status: WireStatus): void {
    const emitter = call as unknown as { emit(event: "error", error: unknown): boolean };
    // grpc-js sends the status of an error emitted on a streaming server call.
    emitter.emit("error", { ...status, name: "StatusError", message: status.details });
  }

  /** Answers a unary or client-streaming call: headers, then the response or the status. */
  #answerOnce(call: AnyCall, ctx: GrpcCallContext, callback: sendUnaryData<unknown>): void {
    const headers = ctx.responseHeadersIfAny;
    if (headers !== undefined) call.sendMetadata(headers);
    const failure = failureOf(ctx);
    if (failure !== undefined) callback(failure, null);
    else callback(null, ctx.response ?? {}, ctx.trailersIfAny);
  }

  /** Ends a server-streaming or bidi call whose messages have been sent: its status and trailers. */
  #endStream(stream: ServerWritableStream<unknown, unknown>, ctx: GrpcCallContext): void {
    const failure = failureOf(ctx);
    if (failure !== undefined) this.#refuse(stream, failure);
    else stream.end(ctx.trailersIfAny);
  }
}
