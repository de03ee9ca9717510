import { type ChannelCredentials, type ChannelOptions, Client as GrpcClient, credentials as grpcCredentials, Metadata, type MethodDefinition, type ServiceError } from "@grpc/grpc-js";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import { KEYVALUE_PROTO } from "../../grpc/proto-files.js";
import { decodeStatusDetails, PUSHBACK_KEY, STATUS_DETAILS_KEY } from "../../grpc/rich-status.js";
import { loadServices } from "../../grpc/services.js";
import { statusNameOf } from "../../grpc/status-codes.js";
import { budgetOf } from "../../core/deadline.js";
import type { OutgoingCall, Reply, Transport } from "../transport.js";

/** Options of {@link GrpcTransport}. */
export interface GrpcTransportOptions {
  /** The server, "host:port" (any grpc-js target: "dns:///...", "unix:/path", ...). */
  readonly target: string;
  /** The .proto file(s) of the services called. Default the package's proto/keyvalue.proto. */
  readonly proto?: string | readonly string[];
  /** Default plaintext (`credentials.createInsecure()`). */
  readonly credentials?: ChannelCredentials;
  /** grpc-js channel options (keepalive, message sizes, a service config with its own retry policy...). */
  readonly channelOptions?: ChannelOptions;
}

type Method = MethodDefinition<unknown, unknown>;

/**
 * A transport to any gRPC server (ours or not) through @grpc/grpc-js: the client pipeline's
 * outbound middleware (credentials, deadline, retry, cache, logging) in front of it.
 *
 * A call names its service by the short name ("KeyValue") or the full one
 * ("keyvalue.v1.KeyValue"); a short name two services of the .proto share must be given in
 * full. Metadata goes out as text, except `-bin` keys, whose values are read as base64. The
 * call's `grpc-timeout` becomes the gRPC deadline; its signal cancels the call (the server sees
 * CANCELLED). A non-OK status resolves as an answer with the server's message and retry hint
 * (the `grpc-retry-pushback-ms` trailer, else google.rpc.RetryInfo in `grpc-status-details-bin`);
 * gRPC carries no response with it, nor the server's interceptor names. Only unary methods:
 * a streaming method is UNIMPLEMENTED here until the client has a stream API.
 *
 * @example
 *   const client = createClient(new GrpcTransport({ target: "127.0.0.1:50051" }))
 *     .use(retry()).use(credentials({ token: "valid_token" }));
 *   await client.call("KeyValue", "Get", { key: "k1" });
 */
export class GrpcTransport implements Transport {
  readonly #client: GrpcClient;
  readonly #methods = new Map<string, Method>();
  #closed = false;

  constructor(options: GrpcTransportOptions) {
    if (options === null || typeof options !== "object" || typeof options.target !== "string" || options.target === "") throw new TypeError("GrpcTransport: options.target must be a non-empty string");
    const ambiguous = new Set<string>();
    for (const service of loadServices(options.proto ?? KEYVALUE_PROTO).services) {
      for (const [name, method] of Object.entries(service.definition)) {
        const short = `${service.name}/${name}`;
        if (this.#methods.has(short)) ambiguous.add(short);
        this.#methods.set(short, method as Method);
        this.#methods.set(`${service.fullName}/${name}`, method as Method);
      }
    }
    for (const short of ambiguous) this.#methods.delete(short);
    this.#client = new GrpcClient(options.target, options.credentials ?? grpcCredentials.createInsecure(), options.channelOptions ?? {});
  }

  unary(call: OutgoingCall): Promise<Reply> {
    if (this.#closed) return Promise.reject(new StatusError(Status.UNAVAILABLE, "transport closed"));
    const method = this.#methods.get(`${call.service}/${call.method}`);
    if (method === undefined) return Promise.reject(new StatusError(Status.UNIMPLEMENTED, `${call.service}/${call.method} is not a method of the transport's .proto`));
    if (method.requestStream || method.responseStream) return Promise.reject(new StatusError(Status.UNIMPLEMENTED, `${call.service}/${call.method} streams; GrpcTransport sends unary calls only`));
    const signal = call.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    const { metadata, deadline } = outgoingMetadata(call.metadata);
    return new Promise<Reply>((resolve, reject) => {
      const onAbort = (): void => {
        pending.cancel();
        reject(signal?.reason);
      };
      const pending = this.#client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, call.request, metadata, deadline === undefined ? {} : { deadline },
        (error: ServiceError | null, response?: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(error === null ? { status: Status.OK, response } : replyOfError(error));
        });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Refuses further calls and closes the channel; calls in flight are cancelled by grpc-js. */
  close(): Promise<void> {
    this.#closed = true;
    this.#client.close();
    return Promise.resolve();
  }
}

/** The call's metadata for grpc-js, with `grpc-timeout` taken out as the deadline. */
function outgoingMetadata(entries: Readonly<Record<string, string>>): { metadata: Metadata; deadline: number | undefined } {
  const metadata = new Metadata();
  let deadline: number | undefined;
  for (const key of Object.keys(entries)) {
    const value = entries[key] as string;
    if (key === "grpc-timeout") {
      const ms = budgetOf(value);
      if (ms !== undefined) deadline = Date.now() + ms;
    } else if (key.endsWith("-bin")) metadata.set(key, Buffer.from(value, "base64"));
    else metadata.set(key, value);
  }
  return { metadata, deadline };
}

/** A non-OK status as the transport's answer: status, message, retry hint. */
function replyOfError(error: ServiceError): Reply {
  const status = statusNameOf(error.code);
  return { status, message: error.details, retryAfterMs: retryHintOf(error.metadata) };
}

/**
 * The server's retry hint in ms: gRFC A6's `grpc-retry-pushback-ms` trailer when present (a
 * negative value: do not retry), else google.rpc.RetryInfo from `grpc-status-details-bin`.
 */
export function retryHintOf(trailers: Metadata | undefined): number | undefined {
  if (trailers === undefined) return undefined;
  const pushback = trailers.get(PUSHBACK_KEY)[0];
  if (typeof pushback === "string" && /^-?\d+$/.test(pushback.trim())) return Number(pushback);
  const details = trailers.get(STATUS_DETAILS_KEY)[0];
  return Buffer.isBuffer(details) ? decodeStatusDetails(details)?.retryDelayMs : undefined;
}
