import type { Cluster } from "ioredis";
import { keySlot, SLOT_COUNT } from "../redis/key-slot.js";
import { type HealthBySlot, RedisHealth, type RedisHealthOptions, type RedisState } from "./redis-health.js";

/**
 * One circuit breaker per shard of a Redis Cluster, so that a dead master sends only the
 * clients of its own slots to the insurance bucket while every other shard keeps sharing
 * limits, and each shard's changes are logged once (not one flag toggled by every shard).
 *
 * A shard is a run of consecutive slots served by one master, named by its first slot; the
 * runs are read again from ioredis's slot table after each refresh. Each failure of a shard
 * asks the client to refresh that table (a command queued for a dead master gets no MOVED, so
 * the client would not learn otherwise that a replica has taken over). The promoted replica
 * serves the same slots, so the shard keeps its breaker, and the next probe (now routed to the
 * new master) brings it back: one "lost" and one "back" line for the failover.
 *
 * Until the Cluster client is first ready (and while the client reports that it cannot reach
 * the Cluster at all) one breaker for the whole client answers instead, as for a single Redis.
 *
 * @example
 *   const health = new ClusterHealth(cluster, { logger });
 *   const shard = health.healthOf(health.slotOf(key));
 *   if (shard.shouldTry()) cluster.get(key).then(() => shard.succeeded(), (e) => shard.failed(e));
 */
export class ClusterHealth implements HealthBySlot {
  readonly #client: Cluster;
  readonly #options: RedisHealthOptions;
  readonly #connection: RedisHealth;
  /** Each shard's breaker, by the shard's first slot. */
  readonly #shards = new Map<number, RedisHealth>();
  /** For each slot, the first slot of its shard; undefined once ioredis has refreshed its table. */
  #firstSlots: Uint16Array | undefined;

  constructor(client: Cluster, options: RedisHealthOptions = {}) {
    this.#client = client;
    this.#options = options;
    this.#connection = new RedisHealth(options).watch(client);
    client.on("refresh", () => (this.#firstSlots = undefined));
  }

  slotOf(key: string): number {
    return keySlot(key);
  }

  healthOf(slot: number): RedisHealth {
    if (this.#connection.state !== "up") return this.#connection;
    const first = this.#shardStarts()[slot]!;
    let shard = this.#shards.get(first);
    if (shard === undefined) {
      shard = new RedisHealth({
        ...this.#options,
        name: "Redis Cluster shard",
        subject: "rate limits of its clients",
        initialState: "up",
        fields: { slots: this.#range(first) },
        onFailure: () => this.#client.refreshSlotsCache(),
      });
      this.#shards.set(first, shard);
    }
    return shard;
  }

  /** The client's connection state until it is up; then "down" while any shard is down, else "up". */
  get state(): RedisState {
    if (this.#connection.state !== "up") return this.#connection.state;
    for (const shard of this.#shards.values()) if (shard.state === "down") return "down";
    return "up";
  }

  #shardStarts(): Uint16Array {
    if (this.#firstSlots !== undefined) return this.#firstSlots;
    const slots = this.#client.slots;
    const firsts = new Uint16Array(SLOT_COUNT);
    for (let slot = 1; slot < SLOT_COUNT; slot++) firsts[slot] = slots[slot]?.[0] === slots[slot - 1]?.[0] ? firsts[slot - 1]! : slot;
    return (this.#firstSlots = firsts);
  }

  /** "first-last", the slots of the shard that starts at `first`, for the log lines. */
  #range(first: number): string {
    const firsts = this.#shardStarts();
    let last = first;
    while (last + 1 < SLOT_COUNT && firsts[last + 1] === first) last++;
    return `${first}-${last}`;
  }
}
