import type { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { Logger } from "../logging/logger.js";

/** Where a {@link RedisHealth} stands: no answer yet, answering, or failing. */
export type RedisState = "connecting" | "up" | "down";

/** Options of {@link RedisHealth}. */
export interface RedisHealthOptions {
  /** Where the state changes are logged, one line each. Default: nowhere. */
  readonly logger?: Pick<Logger, "info" | "warn">;
  /** While Redis is down, one call in this many ms is let through to see whether it is back. Default 250. */
  readonly probeEveryMs?: number;
  /** What depends on Redis, for the log lines. Default "rate limits". */
  readonly subject?: string;
  /** What the log lines call the Redis watched. Default "Redis". */
  readonly name?: string;
  /** Fields added to each log line (which shard, say). Default none. */
  readonly fields?: Readonly<Record<string, string>>;
  /** "up" for a Redis already known to answer: its first success is not logged. Default "connecting". */
  readonly initialState?: "connecting" | "up";
  /** Called on each failure once up (the outage and each failed probe). Default: nothing. */
  readonly onFailure?: () => void;
  /** Monotonic clock in ms; inject a fake one in tests. Default performance.now. */
  readonly now?: () => number;
}

/** The error's message; for a Cluster that reached no master, with the last one's error (ECONNREFUSED...). */
function message(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const last = (error as { lastNodeError?: unknown }).lastNodeError;
  return last instanceof Error ? `${error.message} (${last.message})` : error.message;
}

/** Errors Redis answers about a command's own keys (their type, their slots, a script's work on their values). */
const KEY_ERROR = /^(WRONGTYPE|CROSSSLOT|ERR)\b/;

/**
 * Whether a failed command says that its Redis (its shard) is out: unreachable, stalled,
 * failing over (MOVED to a dead master, CLUSTERDOWN), out of memory. An error about the
 * command's own keys fails that command alone and should leave the breaker as it is, so that
 * no key opens it for the other clients of the shard.
 */
export function isOutage(error: unknown): boolean {
  return !(error instanceof Error && error.name === "ReplyError" && KEY_ERROR.test(error.message));
}

/**
 * The health of the Redis each key lives on: one {@link RedisHealth} for a single Redis, one
 * per shard on a Cluster (ClusterHealth), so that callers ask the breaker of their own key.
 */
export interface HealthBySlot {
  /** The Cluster slot of `key`; 0 for a single Redis. */
  slotOf(key: string): number;
  /** The breaker of the Redis (the shard) that serves `slot`. */
  healthOf(slot: number): RedisHealth;
  /** "up" while every Redis (shard) answers, "down" while one does not, "connecting" before the first answer. */
  readonly state: RedisState;
}

/**
 * A circuit breaker for one Redis client (or one shard of a Cluster), fed by command outcomes and the client's `ready` and
 * `error` events. While Redis is up every call goes to it; once a command fails or times out,
 * calls skip Redis (and its timeout) except one probe per `probeEveryMs`, until a probe
 * succeeds or the client reconnects. Each change of state is logged once, never once per call.
 *
 * @example
 *   const health = new RedisHealth({ logger });
 *   health.watch(redis);
 *   if (health.shouldTry()) redis.get(k).then(() => health.succeeded(), (e) => health.failed(e));
 */
export class RedisHealth implements HealthBySlot {
  readonly #logger: Pick<Logger, "info" | "warn"> | undefined;
  readonly #probeEveryMs: number;
  readonly #subject: string;
  readonly #name: string;
  readonly #fields: Readonly<Record<string, string>> | undefined;
  readonly #onFailure: (() => void) | undefined;
  readonly #now: () => number;
  #state: RedisState;
  #nextProbeAt = 0;

  constructor(options: RedisHealthOptions = {}) {
    const { probeEveryMs = 250, subject = "rate limits", name = "Redis", now = () => performance.now() } = options;
    if (!Number.isFinite(probeEveryMs) || probeEveryMs < 0) throw new RangeError(`RedisHealth: probeEveryMs must be a number >= 0, got ${probeEveryMs}`);
    this.#logger = options.logger;
    this.#probeEveryMs = probeEveryMs;
    this.#subject = subject;
    this.#name = name;
    this.#fields = options.fields;
    this.#onFailure = options.onFailure;
    this.#now = now;
    this.#state = options.initialState ?? "connecting";
  }

  /** The current state. */
  get state(): RedisState {
    return this.#state;
  }

  /** 0: a single Redis has no slots. */
  slotOf(_key: string): number {
    return 0;
  }

  /** This breaker, whatever the slot. */
  healthOf(_slot: number): RedisHealth {
    return this;
  }

  /**
   * Follows `client`'s connection: `ready` means up, `error` (a connect that failed) down. An
   * ioredis client (`status` "ready") that is connected already counts as up at once.
   */
  watch(client: Pick<EventEmitter, "on"> & { readonly status?: string }): this {
    client.on("ready", () => this.succeeded());
    client.on("error", (error: unknown) => this.#down(error));
    if (client.status === "ready") this.succeeded();
    return this;
  }

  /**
   * Whether this call should go to Redis: always while up or connecting (a command on a client
   * that is not connected yet fails at once, the offline queue being off); while down, only
   * the first call after each `probeEveryMs`.
   */
  shouldTry(): boolean {
    if (this.#state !== "down") return true;
    const now = this.#now();
    if (now < this.#nextProbeAt) return false;
    this.#nextProbeAt = now + this.#probeEveryMs;
    return true;
  }

  /** Redis answered. */
  succeeded(): void {
    if (this.#state === "up") return;
    const was = this.#state;
    this.#state = "up";
    this.#logger?.info({ redis: "up", ...this.#fields }, was === "connecting" ? `${this.#name} connected: ${this.#subject} are shared through it` : `${this.#name} back: ${this.#subject} are shared again`);
  }

  /**
   * A command failed (refused, closed, timed out, any other error of the client). Before the
   * first connection that only means "not connected yet": the client's `error` event tells
   * when connecting failed.
   */
  failed(error: unknown): void {
    if (this.#state === "connecting") return;
    this.#onFailure?.();
    this.#down(error);
  }

  #down(error: unknown): void {
    this.#nextProbeAt = this.#now() + this.#probeEveryMs;
    if (this.#state === "down") return;
    const was = this.#state;
    this.#state = "down";
    const lead = was === "connecting" ? `${this.#name} unreachable at start` : `${this.#name} lost`;
    this.#logger?.warn({ redis: "down", ...this.#fields, err: message(error) }, `${lead}: ${this.#subject} come from this node's in-memory insurance bucket until it answers`);
  }
}
