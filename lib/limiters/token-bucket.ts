import { performance } from "node:perf_hooks";
import { RateLimiterCompatibleAbstract, RateLimiterRes } from "./rate-limiter-flexible.js";
import { type BucketOptions, bucketSettings } from "./bucket-options.js";

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions extends BucketOptions {
  /** Keys kept at most per generation (see below). Default 100,000. */
  readonly maxKeys?: number;
  /** Prefix for the keys, as rate-limiter-flexible limiters have. Default "tb". */
  readonly keyPrefix?: string;
  /** Monotonic clock in milliseconds; inject a fake one in tests. Default performance.now. */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Float slack so that a refill of exactly one token counts as one. */
const EPSILON = 1e-9;

/**
 * An in-memory token bucket per key, with rate-limiter-flexible's API and result shape, so the
 * rateLimit middleware treats it like any rate-limiter-flexible limiter (and it can serve as
 * one's `insuranceLimiter`). Unlike rate-limiter-flexible's fixed windows it never admits more
 * than `capacity + elapsed x refillPerSecond` in any interval.
 *
 * `consume` resolves with a RateLimiterRes (`msBeforeNext`: ms until the bucket is full again)
 * or rejects with one (`msBeforeNext`: ms until the points asked for are there).
 *
 * Memory stays bounded without timers: buckets live in two generations that rotate every
 * `capacity / refillPerSecond` seconds, the time an empty bucket takes to fill. A bucket left
 * untouched for a whole generation is full, the same as no bucket, so dropping it is exact. More
 * than `maxKeys` new keys within one generation rotate early, which forgets the oldest buckets.
 *
 * @example
 *   const limiter = new TokenBucket({ capacity: 10, refillPerSecond: 10 });
 *   await limiter.consume("client-1"); // rejects with a RateLimiterRes on the 11th quick call
 */
export class TokenBucket extends RateLimiterCompatibleAbstract {
  override readonly keyPrefix: string;
  override blockDuration = 0;
  override execEvenly = false;
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly #perMs: number;
  readonly #periodMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  #current = new Map<string, Bucket>();
  #previous = new Map<string, Bucket>();
  #rotateAt: number;
  /** Whether the last #bucket() call created the bucket. */
  #created = false;
  /** Whether the last #take() call took the points. */
  #taken = false;

  constructor(options: TokenBucketOptions = {}) {
    super();
    const { capacity, refillPerSecond } = bucketSettings("TokenBucket", options);
    const { maxKeys = 100_000, keyPrefix = "tb", now = () => performance.now() } = options;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`TokenBucket: maxKeys must be an integer >= 1, got ${maxKeys}`);
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.keyPrefix = keyPrefix;
    this.#perMs = refillPerSecond / 1000;
    this.#periodMs = refillPerSecond > 0 ? capacity / this.#perMs : Infinity;
    this.#maxKeys = maxKeys;
    this.#now = now;
    this.#rotateAt = now() + this.#periodMs;
  }

  /** Takes `points` tokens from `key`'s bucket, or rejects without taking any. */
  override consume(key: string | number, points = 1): Promise<RateLimiterRes> {
    const answer = this.#take(String(key), points);
    return this.#taken ? Promise.resolve(answer) : Promise.reject(answer);
  }

  /**
   * {@link consume} without the promise, for a caller on a hot path: returns the answer when
   * the points were taken, throws it (a RateLimiterRes, not an Error) when they were not.
   *
   * @example
   *   try { bucket.consumeSync("c1"); } catch (res) { retryAfter(res.msBeforeNext); }
   */
  consumeSync(key: string | number, points = 1): RateLimiterRes {
    const answer = this.#take(String(key), points);
    if (!this.#taken) throw answer;
    return answer;
  }

  /** Takes `points` tokens whether or not they are there (the bucket may go negative). */
  override penalty(key: string | number, points = 1): Promise<RateLimiterRes> {
    const bucket = this.#bucket(String(key), this.#now());
    bucket.tokens -= points;
    return Promise.resolve(this.#result(bucket, false));
  }

  /** Gives `points` tokens back, up to capacity. */
  override reward(key: string | number, points = 1): Promise<RateLimiterRes> {
    const bucket = this.#bucket(String(key), this.#now());
    bucket.tokens = Math.min(this.capacity, bucket.tokens + points);
    return Promise.resolve(this.#result(bucket, false));
  }

  /** The state of `key`'s bucket, or null when it is full (never used or long idle). */
  override get(key: string | number): Promise<RateLimiterRes | null> {
    const k = String(key);
    if (!this.#current.has(k) && !this.#previous.has(k)) return Promise.resolve(null);
    return Promise.resolve(this.#result(this.#bucket(k, this.#now()), false));
  }

  /** Sets how many points `key` has consumed (capacity minus its tokens); `secDuration` is unused. */
  override set(key: string | number, points: number, _secDuration?: number): Promise<RateLimiterRes> {
    const bucket = this.#bucket(String(key), this.#now());
    bucket.tokens = this.capacity - points;
    return Promise.resolve(this.#result(bucket, false));
  }

  /** Empties `key`'s bucket and holds it empty for `secDuration` seconds before it refills. */
  override block(key: string | number, secDuration: number): Promise<RateLimiterRes> {
    const bucket = this.#bucket(String(key), this.#now());
    bucket.tokens = -secDuration * this.refillPerSecond;
    return Promise.resolve(this.#result(bucket, false));
  }

  /** Forgets `key`'s bucket (it is full again); resolves to whether there was one. */
  override delete(key: string | number): Promise<boolean> {
    const k = String(key);
    const had = this.#current.delete(k);
    return Promise.resolve(this.#previous.delete(k) || had);
  }

  /** How many buckets are held in memory. */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** Takes `points` from `key`'s bucket if it has them; {@link #taken} says whether it did. */
  #take(key: string, points: number): RateLimiterRes {
    const bucket = this.#bucket(key, this.#now());
    this.#taken = bucket.tokens + EPSILON >= points;
    // The same EPSILON slack as the test above, or float error makes the wait a ms too long.
    if (!this.#taken) return new RateLimiterRes(0, Math.ceil((points - bucket.tokens - EPSILON) / this.#perMs), this.#consumed(bucket), false);
    bucket.tokens -= points;
    return this.#result(bucket, this.#created);
  }

  /** The bucket of `key`, refilled up to `now`. */
  #bucket(key: string, now: number): Bucket {
    if (now >= this.#rotateAt) this.#rotate(now);
    let bucket = this.#current.get(key);
    this.#created = false;
    if (bucket === undefined) {
      bucket = this.#previous.get(key);
      if (bucket === undefined) {
        bucket = { tokens: this.capacity, at: now };
        this.#created = true;
      } else this.#previous.delete(key);
      if (this.#current.size >= this.#maxKeys) this.#rotate(now);
      this.#current.set(key, bucket);
    }
    const elapsed = now - bucket.at;
    if (elapsed > 0) {
      bucket.tokens = Math.min(this.capacity, bucket.tokens + elapsed * this.#perMs);
      bucket.at = now;
    }
    return bucket;
  }

  #rotate(now: number): void {
    // Past two periods idle, even the previous generation holds only full buckets.
    this.#previous = now >= this.#rotateAt + this.#periodMs ? new Map() : this.#current;
    this.#current = new Map();
    this.#rotateAt = now + this.#periodMs;
  }

  #consumed(bucket: Bucket): number {
    return Math.max(0, Math.ceil(this.capacity - bucket.tokens - EPSILON));
  }

  #result(bucket: Bucket, first: boolean): RateLimiterRes {
    const missing = this.capacity - bucket.tokens;
    const msToFull = missing <= EPSILON ? 0 : this.#perMs > 0 ? Math.ceil((missing - EPSILON) / this.#perMs) : Infinity;
    return new RateLimiterRes(Math.max(0, Math.floor(bucket.tokens + EPSILON)), msToFull, this.#consumed(bucket), first);
  }
}
