import type { RateLimiterRes } from "rate-limiter-flexible";
import type { CallContext } from "../lib/context.js";
import type { Middleware, Next } from "../lib/middleware.js";
import { Status } from "../lib/status.js";
import { StatusError } from "../lib/status-error.js";
import { TokenBucket } from "../lib/token-bucket.js";

/** The part of a rate-limiter-flexible limiter this middleware uses. */
export interface ConsumingLimiter {
  /** Resolves when the points were taken; rejects with a RateLimiterRes when over the limit, or an Error when the store failed. */
  consume(key: string, points?: number): Promise<RateLimiterRes>;
}

/** What rateLimit adds to `ctx.state`: the limiter's answer for this call. */
export interface RateLimitState {
  rateLimit: RateLimiterRes;
}

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** Any rate-limiter-flexible limiter; default a {@link TokenBucket} of `capacity` and `refillPerSecond`. */
  readonly limiter?: ConsumingLimiter;
  /** Burst size of the default token bucket. Default 10. */
  readonly capacity?: number;
  /** Refill rate of the default token bucket, tokens per second. Default 10. */
  readonly refillPerSecond?: number;
  /** The client a call counts against. Default: the peer (bin/node: the envelope's `src`). */
  readonly key?: (ctx: CallContext) => string;
  /**
   * Count calls against the first address in `x-forwarded-for` metadata when there is one.
   * Only behind a proxy that sets it: otherwise a client dodges its limit by inventing
   * addresses. Default false. Ignored when `key` is given.
   */
  readonly trustProxy?: boolean;
}

const peerKey = (ctx: CallContext): string => ctx.peer;

function forwardedKey(ctx: CallContext): string {
  const forwarded = ctx.metadata.get("x-forwarded-for");
  if (forwarded === undefined) return ctx.peer;
  const comma = forwarded.indexOf(",");
  const first = (comma === -1 ? forwarded : forwarded.slice(0, comma)).trim();
  return first === "" ? ctx.peer : first;
}

function isLimiterAnswer(value: unknown): value is RateLimiterRes {
  return value !== null && typeof value === "object" && !(value instanceof Error) && typeof (value as RateLimiterRes).msBeforeNext === "number";
}

/**
 * Spends one point per call from the caller's budget; over the limit the call ends with
 * RESOURCE_EXHAUSTED (the wait until the next point is in the error's details, for the logs).
 * A limiter store that fails ends the call with UNAVAILABLE.
 *
 * On the wire its name is "rate_limit". Put it after auth, so that unauthenticated calls spend
 * nothing.
 *
 * @example
 *   app.use(rateLimit({ capacity: 20, refillPerSecond: 5 }));
 *   app.use(rateLimit({ limiter: new RateLimiterRedis({ storeClient: redis, points: 100, duration: 60 }) }));
 */
export function rateLimit(options: RateLimitOptions = {}): Middleware<object, RateLimitState> {
  if (options.limiter !== undefined && (options.capacity !== undefined || options.refillPerSecond !== undefined)) {
    throw new TypeError("rateLimit(): pass either limiter or capacity/refillPerSecond, not both");
  }
  if (options.limiter !== undefined && typeof options.limiter.consume !== "function") throw new TypeError("rateLimit(): limiter must have consume()");
  if (options.key !== undefined && typeof options.key !== "function") throw new TypeError("rateLimit(): key must be a function");
  const limiter = options.limiter ?? new TokenBucket({ capacity: options.capacity ?? 10, refillPerSecond: options.refillPerSecond ?? 10 });
  const keyOf = options.key ?? (options.trustProxy === true ? forwardedKey : peerKey);
  // The in-memory bucket answers at once: ask it without a promise (one microtask less per
  // call, issue 6), unless a subclass changed what consume() does.
  const bucket = limiter instanceof TokenBucket && limiter.consume === TokenBucket.prototype.consume ? limiter : undefined;

  /** A limiter that answers with a promise (any rate-limiter-flexible limiter). */
  const consumeThenNext = async (ctx: CallContext<Partial<RateLimitState>>, next: Next): Promise<void> => {
    const key = keyOf(ctx);
    let answer: RateLimiterRes;
    try {
      answer = await limiter.consume(key, 1);
    } catch (rejection) {
      throw refusal(ctx, key, rejection);
    }
    ctx.state.rateLimit = answer;
    await next();
  };

  // With the in-memory bucket, a plain function that behaves as the async one above does (it
  // never throws; it answers with a promise that settles as next()'s does, or rejects), without
  // an async frame and an await per call (issue 6).
  return function rate_limit(ctx: CallContext<Partial<RateLimitState>>, next: Next): Promise<void> {
    if (bucket === undefined) return consumeThenNext(ctx, next);
    try {
      const key = keyOf(ctx);
      let answer: RateLimiterRes;
      try {
        answer = bucket.consumeSync(key, 1);
      } catch (rejection) {
        throw refusal(ctx, key, rejection);
      }
      ctx.state.rateLimit = answer;
      return Promise.resolve(next());
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/** The error that ends a call the limiter refused: over the limit, or the limiter failed. */
function refusal(ctx: CallContext<Partial<RateLimitState>>, key: string, rejection: unknown): StatusError {
  if (isLimiterAnswer(rejection)) {
    ctx.state.rateLimit = rejection;
    return new StatusError(Status.RESOURCE_EXHAUSTED, "rate limit exceeded", { details: { client: key, retryAfterMs: rejection.msBeforeNext } });
  }
  return new StatusError(Status.UNAVAILABLE, "rate limiter unavailable", { cause: rejection });
}
