import type { CallContext } from "../core/context.js";
import { overBytes } from "../core/limits.js";
import { defineService, type ServiceDefinition } from "../core/service.js";
import { Status } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import { isThenable } from "../core/thenable.js";

/** Where the KeyValue service keeps its data; may answer synchronously or with a promise. */
export interface KeyValueStore {
  get(key: string): string | undefined | Promise<string | undefined>;
  set(key: string, value: string): void | Promise<void>;
  /** Resolves to whether the key was there. */
  delete(key: string): boolean | Promise<boolean>;
}

/** The default store: a Map in this process. */
export class MemoryStore implements KeyValueStore {
  readonly #data = new Map<string, string>();
  get(key: string): string | undefined {
    return this.#data.get(key);
  }
  set(key: string, value: string): void {
    this.#data.set(key, value);
  }
  delete(key: string): boolean {
    return this.#data.delete(key);
  }
  /** How many keys are stored. */
  get size(): number {
    return this.#data.size;
  }
}

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
 * The KeyValue service:
 * - `Put {key, value}` -> `{written: true}`;
 * - `Get {key}` -> `{key, value, found: true}`, or NOT_FOUND with `{key, found: false}`;
 * - `Delete {key}` -> `{key, deleted}` (OK whether or not the key was there).
 * Keys and values are strings; anything else is INVALID_ARGUMENT, and so is a key or value over
 * its size limit (a documented limit on a field, as Google APIs answer it; RESOURCE_EXHAUSTED
 * would tell the caller to retry later, which will never help).
 *
 * A store that answers synchronously (the MemoryStore) gets a synchronous answer: no promise
 * and no microtask per call; a store that returns promises gets a promise.
 */
export function keyValueService(store: KeyValueStore = new MemoryStore(), options: KeyValueOptions = {}): ServiceDefinition {
  const { maxKeyBytes = 1024, maxValueBytes = 1024 * 1024 } = options;
  for (const [name, value] of [["maxKeyBytes", maxKeyBytes], ["maxValueBytes", maxValueBytes]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`keyValueService(): ${name} must be an integer >= 1, got ${value}`);
  }
  return defineService("KeyValue", {
    Get(request: unknown, ctx: CallContext) {
      const key = field(request, "key", maxKeyBytes);
      const value = store.get(key);
      return isThenable(value) ? getLater(key, value, ctx) : found(key, value, ctx);
    },
    Put(request: unknown) {
      const key = field(request, "key", maxKeyBytes);
      const value = field(request, "value", maxValueBytes);
      const done = store.set(key, value);
      return isThenable(done) ? Promise.resolve(done).then(WRITTEN) : WRITTEN();
    },
    Delete(request: unknown) {
      const key = field(request, "key", maxKeyBytes);
      const had = store.delete(key);
      return isThenable(had) ? deleteLater(key, had) : deleted(key, had);
    },
  });
}

async function getLater(key: string, pending: PromiseLike<string | undefined>, ctx: CallContext) {
  return found(key, await pending, ctx);
}
async function deleteLater(key: string, pending: PromiseLike<boolean>) {
  return deleted(key, await pending);
}
