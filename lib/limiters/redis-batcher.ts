import type { Cluster, Redis } from "ioredis";
import { type HealthBySlot, isOutage } from "./redis-health.js";

/** A call that waits in a {@link RedisBatcher}: its key's slot decides which batch it joins. */
export interface BatchedCall {
  /** The Cluster slot of its Redis key (HealthBySlot.slotOf); 0 for a single Redis. */
  readonly slot: number;
}

/** Options of {@link RedisBatcher}. */
export interface RedisBatcherOptions<C extends BatchedCall, R> {
  /** Decides the batches: on a Cluster, one per slot. */
  readonly client: Redis | Cluster;
  /** Fed one outcome per batch (not per call), to the breaker of the batch's shard; the caller asks it whether to queue at all. */
  readonly health: HealthBySlot;
  /** Longest a batch waits for Redis before each of its calls falls back, in ms. */
  readonly timeoutMs: number;
  /** Calls per script run at most; more go in further runs, so that one script never runs long. Default 1000. */
  readonly maxBatch?: number;
  /** Runs one batch (every key in one slot) as one script call. */
  send(calls: readonly C[]): Promise<R>;
  /** Answers the `index`th call of a batch from the batch's reply. */
  answer(call: C, reply: R, index: number): void;
  /** Answers a call whose batch failed or timed out. */
  fallBack(call: C, error: unknown): void;
}

class RedisTimeout extends Error {
  override readonly name = "RedisTimeout";
}

/**
 * Gathers the calls of one event-loop turn and sends them to Redis as a few script calls
 * instead of one each (measured: per call, an EVALSHA, its promise and its deadline timer cost
 * bin/node more than the rest of the call). bin/node reads a whole stdin chunk, hundreds of
 * calls, in one synchronous turn, so they reach the limiter together.
 *
 * The queue is flushed on a microtask, once the turn that filled it is over: at most
 * `maxBatch` calls per script run, and on a Cluster one run per slot (a multi-key script needs
 * all its keys in one). Calls keep their order within a run, and runs go out in queue order on
 * one connection per Redis (per master on a Cluster), so a key's calls reach Redis in the order
 * they were made.
 *
 * One deadline per flush, however many runs it sends: a run without a reply after `timeoutMs`
 * counts as one failure of its shard's breaker (not one per call), and each of its calls falls
 * back.
 *
 * @example
 *   const batcher = new RedisBatcher({ client, health, timeoutMs: 100, send, answer, fallBack });
 *   batcher.add(call); // answered through answer() or fallBack() once the turn is over
 */
export class RedisBatcher<C extends BatchedCall, R> {
  readonly maxBatch: number;
  readonly #options: RedisBatcherOptions<C, R>;
  readonly #bySlot: boolean;
  #queue: C[] = [];

  constructor(options: RedisBatcherOptions<C, R>) {
    const { maxBatch = 1000, timeoutMs } = options;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`RedisBatcher: maxBatch must be an integer >= 1, got ${maxBatch}`);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`RedisBatcher: timeoutMs must be a number > 0, got ${timeoutMs}`);
    this.maxBatch = maxBatch;
    this.#options = options;
    this.#bySlot = options.client.isCluster;
  }

  /** Queues `call` for the flush at the end of this turn. */
  add(call: C): void {
    if (this.#queue.push(call) === 1) queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    const calls = this.#queue;
    this.#queue = [];
    const batches = this.#split(calls);
    let open = batches.length;
    // The deadline bounds everything the client might do meanwhile (a Cluster retrying across
    // a failover, say). It is checked a loop turn late, after pending I/O has been read, so
    // that a process starved of CPU for a moment does not take a reply that has arrived for a
    // timeout: that would answer from the insurance bucket, which is not shared.
    const timer = setTimeout(() => setImmediate(expire), this.#options.timeoutMs);
    const settled = new Array<boolean>(batches.length).fill(false);
    const expire = (): void => {
      const error = new RedisTimeout(`Redis did not answer within ${this.#options.timeoutMs} ms`);
      for (let b = 0; b < batches.length; b++) if (!settled[b]) this.#fail(batches[b]!, error);
      settled.fill(true);
    };
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b]!;
      const done = (): boolean => {
        if (settled[b]) return false;
        settled[b] = true;
        if (--open === 0) clearTimeout(timer);
        return true;
      };
      this.#options.send(batch).then(
        (reply) => {
          if (!done()) return;
          this.#options.health.healthOf(batch[0]!.slot).succeeded();
          for (let i = 0; i < batch.length; i++) this.#options.answer(batch[i]!, reply, i);
        },
        (error: unknown) => {
          if (done()) this.#fail(batch, error);
        },
      );
    }
  };

  #fail(batch: readonly C[], error: unknown): void {
    if (isOutage(error)) this.#options.health.healthOf(batch[0]!.slot).failed(error);
    for (const call of batch) this.#options.fallBack(call, error);
  }

  /** `calls` cut into script runs: by slot on a Cluster, `maxBatch` at most each, in order. */
  #split(calls: C[]): C[][] {
    const max = this.maxBatch;
    if (!this.#bySlot) {
      if (calls.length <= max) return [calls];
      const batches: C[][] = [];
      for (let i = 0; i < calls.length; i += max) batches.push(calls.slice(i, i + max));
      return batches;
    }
    // Each slot's run that still has room; a full one is replaced by a new run.
    const filling = new Map<number, C[]>();
    const batches: C[][] = [];
    for (const call of calls) {
      const slot = call.slot;
      let run = filling.get(slot);
      if (run === undefined || run.length >= max) {
        run = [];
        batches.push(run);
        filling.set(slot, run);
      }
      run.push(call);
    }
    return batches;
  }
}
