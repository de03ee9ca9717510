import type { CallContext } from "./context.js";
import { defineService, type ServiceDefinition } from "./service.js";
import { Status } from "./status.js";
import { StatusError } from "./status-error.js";

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

function field(request: unknown, name: string): string {
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new StatusError(Status.INVALID_ARGUMENT, "request must be an object");
  }
  const value = Object.hasOwn(request, name) ? (request as Record<string, unknown>)[name] : undefined;
  if (typeof value !== "string") throw new StatusError(Status.INVALID_ARGUMENT, `request.${name} must be a string`);
  return value;
}

/**
 * The KeyValue service:
 * - `Put {key, value}` -> `{written: true}`;
 * - `Get {key}` -> `{key, value, found: true}`, or NOT_FOUND with `{key, found: false}`;
 * - `Delete {key}` -> `{key, deleted}` (OK whether or not the key was there).
 * Keys and values are strings; anything else is INVALID_ARGUMENT.
 */
export function keyValueService(store: KeyValueStore = new MemoryStore()): ServiceDefinition {
  return defineService("KeyValue", {
    async Get(request: unknown, ctx: CallContext) {
      const key = field(request, "key");
      const value = await store.get(key);
      if (value === undefined) {
        ctx.status = Status.NOT_FOUND;
        return { key, found: false };
      }
      return { key, value, found: true };
    },
    async Put(request: unknown) {
      const key = field(request, "key");
      const value = field(request, "value");
      await store.set(key, value);
      return { written: true };
    },
    async Delete(request: unknown) {
      const key = field(request, "key");
      return { key, deleted: await store.delete(key) };
    },
  });
}
