// A gRPC client made from the .proto with @grpc/grpc-js and @grpc/proto-loader alone: none of the
// project's code, so what it sees is what any gRPC client sees.
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { ROOT } from "./node-process.js";

export { grpc };
export const KEYVALUE_PROTO = `${ROOT}proto/keyvalue.proto`;
export const HEALTH_PROTO = `${ROOT}node_modules/grpc-health-check/proto/health/v1/health.proto`;
export const REFLECTION_PROTO = `${ROOT}node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto`;

const OPTIONS: loader.Options = { keepCase: true, defaults: true, oneofs: true, longs: String, enums: String };

type Constructor = new (target: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client;

function serviceConstructor(proto: string, name: string): Constructor {
  let node: unknown = grpc.loadPackageDefinition(loader.loadSync(proto, OPTIONS));
  for (const part of name.split(".")) node = (node as Record<string, unknown>)[part];
  return node as Constructor;
}

/** A client of one service of a .proto: `client.Get(request, metadata, options, callback)` etc., untyped. */
export type BareClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export function bareClient(target: string, service = "keyvalue.v1.KeyValue", proto = KEYVALUE_PROTO): BareClient {
  const Service = serviceConstructor(proto, service);
  return new Service(target, grpc.credentials.createInsecure()) as BareClient;
}

/** `authorization: Bearer <token>` metadata, plus `extra` entries. */
export function bearer(token: string | undefined, extra: Record<string, string | Buffer> = {}): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
  return metadata;
}

/** The outcome of one unary call: the response, or the error with its status and trailers. */
export interface Outcome {
  readonly response?: Record<string, unknown>;
  readonly error?: grpc.ServiceError;
  readonly headers?: grpc.Metadata;
}

/** Makes a unary call and waits for its outcome (never rejects). */
export function unary(client: BareClient, method: string, request: object, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    const call = client[method]!(request, metadata, options, (error: grpc.ServiceError | null, response: Record<string, unknown>) => {
      resolve(error === null ? { response, ...(headers ? { headers } : {}) } : { error, ...(headers ? { headers } : {}) });
    }) as grpc.ClientUnaryCall;
    call.on("metadata", (received: grpc.Metadata) => (headers = received));
  });
}

const richRoot = new protobuf.Root().loadSync([`${ROOT}proto/google/rpc/status.proto`, `${ROOT}proto/google/rpc/error_details.proto`], { keepCase: true });

/** google.rpc.Status from `grpc-status-details-bin`, its Any details decoded by their type URLs. */
export function richStatus(error: grpc.ServiceError): { code: number; message: string; details: Record<string, Record<string, unknown>> } | undefined {
  const bytes = error.metadata?.get("grpc-status-details-bin")[0];
  if (!Buffer.isBuffer(bytes)) return undefined;
  const Status = richRoot.lookupType("google.rpc.Status");
  const status = Status.toObject(Status.decode(bytes), { longs: Number }) as { code: number; message: string; details?: { type_url: string; value: Uint8Array }[] };
  const details: Record<string, Record<string, unknown>> = {};
  for (const any of status.details ?? []) {
    const type = richRoot.lookupType(any.type_url.replace("type.googleapis.com/", ""));
    details[type.fullName.slice(1)] = type.toObject(type.decode(any.value), { longs: Number, defaults: true });
  }
  return { code: status.code, message: status.message, details };
}

/** Reads every message of a server stream until it ends (or fails). */
export function readAll(call: grpc.ClientReadableStream<unknown>): Promise<{ messages: unknown[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const messages: unknown[] = [];
    call.on("data", (message: unknown) => messages.push(message));
    call.on("error", (error: grpc.ServiceError) => resolve({ messages, error }));
    call.on("end", () => resolve({ messages }));
  });
}

/** The services a server lists through reflection v1 (`grpcurl list`). */
export function reflectedServices(target: string): Promise<string[]> {
  const client = bareClient(target, "grpc.reflection.v1.ServerReflection", REFLECTION_PROTO);
  return new Promise((resolve, reject) => {
    const call = client["ServerReflectionInfo"]!() as grpc.ClientDuplexStream<unknown, { list_services_response?: { service: { name: string }[] } }>;
    call.on("data", (answer) => {
      resolve((answer.list_services_response?.service ?? []).map((s: { name: string }) => s.name).sort());
      call.end();
      client.close();
    });
    call.on("error", reject);
    call.write({ list_services: "" });
  });
}

/** grpc.health.v1 Check of `service` ("" for the server). */
export async function healthCheck(target: string, service = ""): Promise<string> {
  const client = bareClient(target, "grpc.health.v1.Health", HEALTH_PROTO);
  const outcome = await unary(client, "Check", { service });
  client.close();
  if (outcome.error !== undefined) throw outcome.error;
  return String(outcome.response?.["status"]);
}

/** Makes a client-streaming call: writes `requests`, half-closes, waits for the outcome (never rejects). */
export function clientStream(client: BareClient, method: string, requests: readonly object[], metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = client[method]!(metadata, options, (error: grpc.ServiceError | null, response: Record<string, unknown>) => {
      resolve(error === null ? { response } : { error });
    }) as grpc.ClientWritableStream<object>;
    for (const request of requests) call.write(request);
    call.end();
  });
}

/** A response stream read as it comes: `next()` waits for the next message, `ended` for its end (with the error, if any). */
export interface Reader<T> {
  next(): Promise<T>;
  readonly received: T[];
  readonly ended: Promise<{ error?: grpc.ServiceError }>;
}

/** Reads `call`'s messages into a {@link Reader}; `next()` rejects once the stream has ended without one. */
export function reader<T>(call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>): Reader<T> {
  const received: T[] = [];
  let taken = 0;
  const waiting: { resolve: (message: T) => void; reject: (error: Error) => void }[] = [];
  let end: { error?: grpc.ServiceError } | undefined;
  const ended = new Promise<{ error?: grpc.ServiceError }>((resolve) => {
    const finish = (outcome: { error?: grpc.ServiceError }): void => {
      end ??= outcome;
      for (const waiter of waiting.splice(0)) waiter.reject(new Error(`the stream ended: ${outcome.error?.details ?? "OK"}`));
      resolve(end);
    };
    call.on("error", (error: grpc.ServiceError) => finish({ error }));
    call.on("end", () => finish({}));
  });
  call.on("data", (message: T) => {
    received.push(message);
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter.resolve(received[taken++] as T);
  });
  return {
    received,
    ended,
    next: () => {
      if (taken < received.length) return Promise.resolve(received[taken++] as T);
      if (end !== undefined) return Promise.reject(new Error("the stream ended"));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}
