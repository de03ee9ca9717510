/** The settings every token bucket here shares, in memory or in Redis. */
export interface BucketOptions {
  /** Tokens a bucket holds when full: the largest burst. Default 10. */
  readonly capacity?: number;
  /** Tokens added per second, continuously. Default 10. 0 means never refilled. */
  readonly refillPerSecond?: number;
}

/** {@link BucketOptions} with their defaults applied and checked. */
export interface BucketSettings {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

/**
 * `options`' capacity and refill with their defaults, or a RangeError naming `owner` (the class
 * being constructed) and the bad option, thrown when the bucket is made rather than on its
 * first call.
 *
 * @example
 *   const { capacity, refillPerSecond } = bucketSettings("TokenBucket", options);
 */
export function bucketSettings(owner: string, options: BucketOptions): BucketSettings {
  const { capacity = 10, refillPerSecond = 10 } = options;
  if (!Number.isFinite(capacity) || capacity < 1) throw new RangeError(`${owner}: capacity must be a number >= 1, got ${capacity}`);
  if (!Number.isFinite(refillPerSecond) || refillPerSecond < 0) throw new RangeError(`${owner}: refillPerSecond must be a number >= 0, got ${refillPerSecond}`);
  return { capacity, refillPerSecond };
}
