import type { Readable, Writable } from "node:stream";
import {
  type CallOptions as GrpcCallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  Client as GrpcClient,
  type ClientWritableStream,
  credentials as grpcCredentials,
  Metadata,
  type MethodDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { CallKind } from "../../core/call-kind.js";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import { KEYVALUE_PROTO } from "../../grpc/proto-files.js";
import { decodeStatusDetails, PUSHBACK_KEY, STATUS_DETAILS_KEY } from "../../grpc/rich-status.js";
import { loadServices } from "../../grpc/services.js";
import { statusNameOf } from "../../grpc/status-codes.js";
import { budgetOf } from "../../core/deadline.js";
import type { OutgoingCall, OutgoingStreamCall, Receive, Reply, Transport } from "../transport.js";

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
 * gRPC carries no response with it, nor the server's interceptor names. Streaming methods go
 * through {@link stream} (the client's `serverStream()`, `clientStream()`, `bidi()`), with
 * back-pressure both ways.
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
    const method = this.#method(call, CallKind.UNARY);
    if (method instanceof StatusError) return Promise.reject(method);
    const signal = call.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    const { metadata, options } = outgoingMetadata(call.metadata);
    return new Promise<Reply>((resolve, reject) => {
      const onAbort = (): void => {
        pending.cancel();
        reject(signal?.reason);
      };
      const pending = this.#client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, call.request, metadata, options,
        (error: ServiceError | null, response?: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(error === null ? { status: Status.OK, response } : replyOfError(error));
        });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * A streaming call. Response messages go to `receive` one at a time: the next is not read
   * from grpc-js until `receive`'s promise settles, so a reader that stops reading stops the
   * server through HTTP/2 flow control. Request messages are pulled from `call.request` only
   * while grpc-js takes them (`write()` true, else after 'drain'); its end is the half-close, and
   * pulling stops when the call ends first. The call's signal cancels it on the server (CANCELLED
   * there) and rejects with its reason; so does a `receive` that rejects (the reader left).
   */
  stream(call: OutgoingStreamCall, receive: Receive): Promise<Reply> {
    const method = this.#method(call, call.kind);
    if (method instanceof StatusError) return Promise.reject(method);
    const signal = call.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    const { metadata, options } = outgoingMetadata(call.metadata);
    const client = this.#client;
    return new Promise<Reply>((resolve, reject) => {
      let settled = false;
      const settle = (reply: Reply | undefined, error?: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        if (reply !== undefined) resolve(reply);
        else {
          grpcCall.cancel();
          reject(error);
        }
      };
      const ended = (): boolean => settled;
      const onAbort = (): void => settle(undefined, signal?.reason);
      const answered = (error: ServiceError | null, response?: unknown): void => settle(error === null ? { status: Status.OK, response } : replyOfError(error));
      const { path, requestSerialize: serialize, responseDeserialize: deserialize } = method;
      let grpcCall: { cancel(): void };
      if (call.kind === CallKind.SERVER_STREAM) {
        const responses = client.makeServerStreamRequest(path, serialize, deserialize, call.request, metadata, options);
        grpcCall = responses;
        readInto(responses, receive).then((reply) => settle(reply), (error: unknown) => settle(undefined, error));
      } else if (call.kind === CallKind.CLIENT_STREAM) {
        const requests = client.makeClientStreamRequest(path, serialize, deserialize, metadata, options, answered);
        grpcCall = requests;
        writeFrom(requests, call.request as AsyncIterable<unknown>, ended).catch((error: unknown) => settle(undefined, StatusError.from(error)));
      } else {
        const both = client.makeBidiStreamRequest(path, serialize, deserialize, metadata, options);
        grpcCall = both;
        writeFrom(both, call.request as AsyncIterable<unknown>, ended).catch((error: unknown) => settle(undefined, StatusError.from(error)));
        readInto(both, receive).then((reply) => settle(reply), (error: unknown) => settle(undefined, error));
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** The kind of `service/method` in the transport's .proto, undefined when it has no such method. */
  kindOf(service: string, method: string): CallKind | undefined {
    const definition = this.#methods.get(`${service}/${method}`);
    return definition === undefined ? undefined : kindOf(definition);
  }

  /** The method `call` names, if the transport is open, the .proto has it and it is of `kind`; else the StatusError to answer. */
  #method(call: OutgoingCall, kind: CallKind): Method | StatusError {
    if (this.#closed) return new StatusError(Status.UNAVAILABLE, "transport closed");
    const method = this.#methods.get(`${call.service}/${call.method}`);
    if (method === undefined) return new StatusError(Status.UNIMPLEMENTED, `${call.service}/${call.method} is not a method of the transport's .proto`);
    const actual = kindOf(method);
    if (actual !== kind) return new StatusError(Status.UNIMPLEMENTED, `${call.service}/${call.method} is a ${actual} method, called as ${kind}`);
    return method;
  }

  /** Refuses further calls and closes the channel; calls in flight are cancelled by grpc-js. */
  close(): Promise<void> {
    this.#closed = true;
    this.#client.close();
    return Promise.resolve();
  }
}

function kindOf(method: Method): CallKind {
  if (method.requestStream) return method.responseStream ? CallKind.BIDI : CallKind.CLIENT_STREAM;
  return method.responseStream ? CallKind.SERVER_STREAM : CallKind.UNARY;
}

/**
 * Reads a response stream into `receive`, one message at a time (the async iterator reads the
 * next only when asked); resolves with the status the stream ended with.
 */
async function readInto(responses: Readable, receive: Receive): Promise<Reply> {
  try {
    for await (const message of responses) await receive(message);
    return { status: Status.OK };
  } catch (error) {
    if (isServiceError(error)) return replyOfError(error);
    throw error; // the reader left: receive() rejected
  }
}

/**
 * Writes the request messages to `requests` as grpc-js takes them, then half-closes. Stops
 * pulling (and returns the iterator, so a generator's `finally` runs) once `ended()` says the
 * call is over. Rejects with what the request iterable throws.
 */
async function writeFrom(requests: ClientWritableStream<unknown>, messages: AsyncIterable<unknown>, ended: () => boolean): Promise<void> {
  const iterator = messages[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next();
    if (ended()) {
      if (next.done !== true) await iterator.return?.();
      return;
    }
    if (next.done === true) {
      requests.end();
      return;
    }
    if (!requests.write(next.value)) await drained(requests, ended);
  }
}

/** Resolves on 'drain', or once the stream closes or the call is over (checked every 50 ms: grpc-js may not emit either). */
function drained(stream: Writable, ended: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearInterval(poll);
      stream.removeListener("drain", done);
      stream.removeListener("close", done);
      resolve();
    };
    const poll = setInterval(() => ended() && done(), 50);
    stream.on("drain", done);
    stream.on("close", done);
  });
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number" && "metadata" in error;
}

/** The call's metadata for grpc-js, with `grpc-timeout` taken out as the deadline. */
function outgoingMetadata(entries: Readonly<Record<string, string>>): { metadata: Metadata; options: GrpcCallOptions } {
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
  return { metadata, options: deadline === undefined ? {} : { deadline } };
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
