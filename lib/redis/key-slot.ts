import { createRequire } from "node:module";

/** The number of hash slots of a Redis Cluster. */
export const SLOT_COUNT = 16384;

/**
 * The Cluster slot of `key` by the function ioredis itself routes commands with
 * (cluster-key-slot, resolved from ioredis's own dependencies: this package does not depend on
 * it directly), so that a batch of keys grouped by it goes to the master ioredis sends it to.
 * It agrees with Redis for every key whose hash tag is neither empty nor holds a lone surrogate
 * (see bucketKey(), which makes every key of a client id such a key). Loaded on first use.
 *
 * @example
 *   keySlot("rl:{c1}"); // the slot of "c1", as `CLUSTER KEYSLOT` answers
 */
export function keySlot(key: string): number {
  calculateSlot ??= load();
  return calculateSlot(key);
}

let calculateSlot: ((key: string) => number) | undefined;

function load(): (key: string) => number {
  const fromIoredis = createRequire(createRequire(import.meta.url).resolve("ioredis"));
  const calculate: unknown = fromIoredis("cluster-key-slot");
  if (typeof calculate !== "function") throw new TypeError("cluster-key-slot (a dependency of ioredis) did not load as a function");
  return calculate as (key: string) => number;
}
