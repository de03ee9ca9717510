import type { CallContext } from "../core/context.js";
import { overBytes } from "../core/limits.js";
import { bidi, clientStream, defineService, type ServiceDefinition, serverStream } from "../core/service.js";
import { Status, statusCode } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import { isThenable } from "../core/thenable.js";
import { MemoryStore } from "./memory-store.js";
import type { KeyValueStore } from "./store.js";

export { MemoryStore, type MemoryStoreOptions } from "./memory-store.js";
export type { Change, Entry, KeyValueStore } from "./store.js";

/** Options of {@link keyValueService}. */
export interface KeyValueOptions {
  /** Longest key, in UTF-8 bytes; longer is INVALID_ARGUMENT. Default 1024. */
  readonly maxKeyBytes?: number | undefined;
  /** Longest value, in UTF-8 bytes; longer is INVALID_ARGUMENT. Default 1 MiB. */
  readonly maxValueBytes?: number | undefined;
}

function field(request: unknown, name: string, maxBytes: number): string {
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new StatusError(Status.INVALID_ARGUMENT, "request must be an object");
  }
  const value = Object.hasOwn(request, name) ? (request as Record<string, unknown>)[name] : undefined;
  // `details.field` names the field: the gRPC host sends it as google.rpc.BadRequest.
  if (typeof value !== "string") throw new StatusError(Status.INVALID_ARGUMENT, `request.${name} must be a string`, { details: { field: name } });
  if (overBytes(value, maxBytes)) throw new StatusError(Status.INVALID_ARGUMENT, `request.${name} is longer than ${maxBytes} bytes`, { details: { field: name } });
  return value;
}

/** An optional string field: proto3's default ("") when absent. */
function optionalField(request: unknown, name: string, maxBytes: number): string {
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new StatusError(Status.INVALID_ARGUMENT, "request must be an object");
  }
  return Object.hasOwn(request, name) ? field(request, name, maxBytes) : "";
}

/** Scan's `limit`: a uint32, 0 (all) when absent. */
function limitOf(request: object): number {
  const limit = Object.hasOwn(request, "limit") ? (request as Record<string, unknown>)["limit"] : 0;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0 || limit > 0xffff_ffff) {
    throw new StatusError(Status.INVALID_ARGUMENT, "request.limit must be an integer from 0 to 4294967295");
  }
  return limit;
}

const OPERATIONS = ["get", "put", "delete"] as const;

function found(key: string, value: string | undefined, ctx: CallContext) {
  if (value === undefined) {
    ctx.status = Status.NOT_FOUND;
    return { key, found: false };
  }
  return { key, value, found: true };
}
const WRITTEN = (): { written: true } => ({ written: true });
const deleted = (key: string, had: boolean) => ({ key, deleted: had });

/**
 * The KeyValue service, as proto/keyvalue.proto declares it:
 * - `Put {key, value}` -> `{written: true}`;
 * - `Get {key}` -> `{key, value, found: true}`, or NOT_FOUND with `{key, found: false}`;
 * - `Delete {key}` -> `{key, deleted}` (OK whether or not the key was there);
 * - `Scan {prefix, limit}` -> a stream of `{key, value}`, keys in UTF-8 byte order (server streaming);
 * - `Watch {prefix}` -> a stream of `{key, value, deleted}`, every change after it subscribed,
 *   until cancelled (server streaming);
 * - `PutMany` stream of `{key, value}` -> `{written}`, applied in order (client streaming);
 * - `Batch` stream of `{get | put | delete}` -> one `{code, get | put | delete}` per operation,
 *   in order, each as soon as it is done; a failing operation fails alone (bidirectional).
 * Keys and values are strings; anything else is INVALID_ARGUMENT, and so is a key or value over
 * its size limit (a documented limit on a field, as Google APIs answer it; RESOURCE_EXHAUSTED
 * would tell the caller to retry later, which will never help).
 *
 * A store that answers synchronously (the MemoryStore) gets a synchronous answer to the unary
 * methods: no promise and no microtask per call; a store that returns promises gets a promise.
 */
export function keyValueService(store: KeyValueStore = new MemoryStore(), options: KeyValueOptions = {}): ServiceDefinition {
  const { maxKeyBytes = 1024, maxValueBytes = 1024 * 1024 } = options;
  for (const [name, value] of [["maxKeyBytes", maxKeyBytes], ["maxValueBytes", maxValueBytes]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`keyValueService(): ${name} must be an integer >= 1, got ${value}`);
  }
  const get = (request: unknown, ctx: CallContext) => {
    const key = field(request, "key", maxKeyBytes);
    const value = store.get(key);
    return isThenable(value) ? getLater(key, value, ctx) : found(key, value, ctx);
  };
  const put = (request: unknown) => {
    const key = field(request, "key", maxKeyBytes);
    const value = field(request, "value", maxValueBytes);
    const done = store.set(key, value);
    return isThenable(done) ? Promise.resolve(done).then(WRITTEN) : WRITTEN();
  };
  const remove = (request: unknown) => {
    const key = field(request, "key", maxKeyBytes);
    const had = store.delete(key);
    return isThenable(had) ? deleteLater(key, had) : deleted(key, had);
  };

  /** One Batch operation's result: its code, and its response when it succeeded. */
  const operate = async (operation: unknown): Promise<Record<string, unknown>> => {
    const set = operation !== null && typeof operation === "object" && !Array.isArray(operation) ? OPERATIONS.filter((name) => Object.hasOwn(operation, name)) : [];
    try {
      if (set.length !== 1) throw new StatusError(Status.INVALID_ARGUMENT, "an operation needs exactly one of get, put, delete");
      const name = set[0] as (typeof OPERATIONS)[number];
      const request = (operation as Record<string, unknown>)[name];
      if (name === "get") {
        const key = field(request, "key", maxKeyBytes);
        const value = await store.get(key);
        return value === undefined ? { code: statusCode.NOT_FOUND } : { code: statusCode.OK, get: { key, value, found: true } };
      }
      return { code: statusCode.OK, [name]: await (name === "put" ? put(request) : remove(request)) };
    } catch (error) {
      // A StatusError is that operation's answer; anything else is a fault and fails the call.
      if (error instanceof StatusError) return { code: statusCode[error.code] };
      throw error;
    }
  };

  return defineService("KeyValue", {
    Get: get,
    Put: put,
    Delete: remove,
    Scan: serverStream(async function* (request, ctx) {
      const prefix = optionalField(request, "prefix", maxKeyBytes);
      const limit = limitOf(request as object);
      if (store.scan === undefined) throw new StatusError(Status.UNIMPLEMENTED, "this store cannot scan");
      for await (const entry of store.scan(prefix, limit, ctx.signal)) {
        if (ctx.signal.aborted) return;
        yield { key: entry.key, value: entry.value };
      }
    }),
    Watch: serverStream(async function* (request, ctx) {
      const prefix = optionalField(request, "prefix", maxKeyBytes);
      if (store.watch === undefined) throw new StatusError(Status.UNIMPLEMENTED, "this store cannot watch");
      const feed = await store.watch(prefix, ctx.signal);
      ctx.sendHeaders(); // subscribed: a client that waits for the headers sees every change made after
      // The feed ends when the call's signal aborts: this loop then ends with it.
      for await (const change of feed) yield { key: change.key, value: change.value, deleted: change.deleted };
    }),
    PutMany: clientStream(async (requests) => {
      let written = 0;
      for await (const request of requests) {
        await put(request);
        written++;
      }
      return { written };
    }),
    Batch: bidi(async function* (operations) {
      for await (const operation of operations) yield await operate(operation);
    }),
  });
}

async function getLater(key: string, pending: PromiseLike<string | undefined>, ctx: CallContext) {
  return found(key, await pending, ctx);
}
async function deleteLater(key: string, pending: PromiseLike<boolean>) {
  return deleted(key, await pending);
}
