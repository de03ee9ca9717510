import type { RateLimiterRes } from "rate-limiter-flexible";
import { CallContext } from "../lib/core/context.js";
import { clientOf, type HostContext, type KoaContext } from "../lib/core/host-context.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";
import { Status } from "../lib/core/status.js";
import { StatusError } from "../lib/core/status-error.js";
import { tailCall } from "../lib/core/tail-call.js";
import { TokenBucket } from "../lib/limiters/token-bucket.js";

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
  /**
   * The client a call counts against. Default: the peer in the RPC host (bin/node: the
   * envelope's `src`), `ctx.ip` in Koa. It receives the host's context (a CallContext, or Koa's
   * ctx); `requestHeader()` and `clientOf()` read either.
   */
  key?(ctx: HostContext): string;
  /**
   * Count calls against the first address in `x-forwarded-for` metadata when there is one.
   * Only behind a proxy that sets it: otherwise a client dodges its limit by inventing
   * addresses. Default false. Ignored when `key` is given, and in Koa, where `ctx.ip` already
   * follows Koa's own `app.proxy` setting.
   */
  readonly trustProxy?: boolean;
}

function forwardedKey(ctx: HostContext): string {
  if (!(ctx instanceof CallContext)) return ctx.ip;
  const forwarded = ctx.metadata.get("x-forwarded-for");
  if (forwarded === undefined) return ctx.peer;
  const comma = forwarded.indexOf(",");
  const first = (comma === -1 ? forwarded : forwarded.slice(0, comma)).trim();
  return first === "" ? ctx.peer : first;
}

function isLimiterAnswer(value: unknown): value is RateLimiterRes {
  return value !== null && typeof value === "object" && !(value instanceof Error) && typeof (value as RateLimiterRes).msBeforeNext === "number";
}

/** The quota as the RateLimit headers state it; known for a TokenBucket and rate-limiter-flexible limiters. */
interface Quota {
  readonly limit: string | undefined;
  readonly policy: string | undefined;
}

function quotaOf(limiter: ConsumingLimiter): Quota {
  const { points, duration } = limiter as { points?: unknown; duration?: unknown };
  const [limit, seconds] = limiter instanceof TokenBucket ? [limiter.capacity, limiter.capacity / limiter.refillPerSecond] : [points, duration];
  if (typeof limit !== "number" || !Number.isFinite(limit)) return { limit: undefined, policy: undefined };
  const window = typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : undefined;
  return { limit: String(limit), policy: window === undefined ? undefined : `${limit};w=${window}` };
}

/** Whole seconds until `ms` have passed, rounded up (HTTP's delta-seconds); undefined for never. */
const seconds = (ms: number): string | undefined => (Number.isFinite(ms) ? String(Math.max(0, Math.ceil(ms / 1000))) : undefined);

/**
 * The draft-ietf-httpapi-ratelimit-headers-06/07 fields (RateLimit-Limit, -Remaining, -Reset,
 * -Policy), the form most clients and proxies read; plus Retry-After when over the limit.
 */
function rateLimitHeaders(quota: Quota, answer: RateLimiterRes, over: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  if (quota.limit !== undefined) headers["RateLimit-Limit"] = quota.limit;
  headers["RateLimit-Remaining"] = String(over ? 0 : answer.remainingPoints);
  const reset = seconds(answer.msBeforeNext);
  if (reset !== undefined) headers["RateLimit-Reset"] = reset;
  if (quota.policy !== undefined) headers["RateLimit-Policy"] = quota.policy;
  if (over && reset !== undefined) headers["Retry-After"] = reset;
  return headers;
}

function setHeaders(ctx: KoaContext, headers: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(headers)) ctx.set(name, headers[name] as string);
}

/**
 * In Koa, goes on with an admitted request's RateLimit headers kept on an error that escapes
 * the downstream: Koa's `ctx.onerror` removes every header set so far and sends only the error's
 * `headers` (the http-errors convention), which then carry ours too, the error's own first.
 */
async function nextKeepingHeaders(next: Next, headers: Readonly<Record<string, string>>): Promise<void> {
  try {
    await next();
  } catch (error) {
    if (error !== null && typeof error === "object") {
      const own = (error as { headers?: unknown }).headers;
      // Reflect.set: an error whose headers cannot be written goes on as it is.
      Reflect.set(error, "headers", own !== null && typeof own === "object" ? { ...headers, ...own } : headers);
    }
    throw error;
  }
}

/**
 * Spends one point per call from the caller's budget; over the limit the call ends with
 * RESOURCE_EXHAUSTED (the wait until the next point is in the error's details, for the logs).
 * A limiter store that fails ends the call with UNAVAILABLE.
 *
 * On the wire its name is "rate_limit". Put it after auth, so that unauthenticated calls spend
 * nothing.
 *
 * In Koa it counts per `ctx.ip` and answers every request with the RateLimit-Limit,
 * RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy headers of
 * draft-ietf-httpapi-ratelimit-headers-06/07 (Reset in seconds, rounded up); over the limit, with
 * 429 and `Retry-After` in seconds (rounded up) besides. The RPC host sends none of these.
 *
 * @example
 *   app.use(rateLimit({ capacity: 20, refillPerSecond: 5 }));
 *   app.use(rateLimit({ limiter: new RateLimiterRedis({ storeClient: redis, points: 100, duration: 60 }) }));
 */
export function rateLimit(options: RateLimitOptions = {}): PortableMiddleware<object, RateLimitState> {
  if (options.limiter !== undefined && (options.capacity !== undefined || options.refillPerSecond !== undefined)) {
    throw new TypeError("rateLimit(): pass either limiter or capacity/refillPerSecond, not both");
  }
  if (options.limiter !== undefined && typeof options.limiter.consume !== "function") throw new TypeError("rateLimit(): limiter must have consume()");
  if (options.key !== undefined && typeof options.key !== "function") throw new TypeError("rateLimit(): key must be a function");
  const limiter = options.limiter ?? new TokenBucket({ capacity: options.capacity ?? 10, refillPerSecond: options.refillPerSecond ?? 10 });
  const keyOf = options.key ?? (options.trustProxy === true ? forwardedKey : clientOf);
  const quota = quotaOf(limiter);
  // The in-memory bucket answers at once: ask it without a promise (one microtask less per
  // call), unless a subclass changed what consume() does.
  const bucket = limiter instanceof TokenBucket && limiter.consume === TokenBucket.prototype.consume ? limiter : undefined;

  /**
   * Stores the limiter's answer and goes on; in an HTTP host, also sends the RateLimit headers,
   * whatever the downstream does.
   */
  const admitted = (ctx: CallContext<Partial<RateLimitState>> | KoaContext, answer: RateLimiterRes, next: Next): Promise<void> => {
    (ctx.state as Partial<RateLimitState>).rateLimit = answer;
    if (ctx instanceof CallContext) return tailCall(next);
    const headers = rateLimitHeaders(quota, answer, false);
    setHeaders(ctx, headers);
    return nextKeepingHeaders(next, headers);
  };

  /** The error that ends a call the limiter refused: over the limit, or the limiter failed. */
  const refusal = (ctx: CallContext<Partial<RateLimitState>> | KoaContext, key: string, rejection: unknown): StatusError => {
    if (!isLimiterAnswer(rejection)) return new StatusError(Status.UNAVAILABLE, "rate limiter unavailable", { cause: rejection });
    (ctx.state as Partial<RateLimitState>).rateLimit = rejection;
    const details = { client: key, retryAfterMs: rejection.msBeforeNext };
    // Headers only for an HTTP host: the RPC path builds nothing it would not send.
    return ctx instanceof CallContext
      ? new StatusError(Status.RESOURCE_EXHAUSTED, "rate limit exceeded", { details })
      : new StatusError(Status.RESOURCE_EXHAUSTED, "rate limit exceeded", { details, headers: rateLimitHeaders(quota, rejection, true) });
  };

  /** A limiter that answers with a promise (any rate-limiter-flexible limiter). */
  const consumeThenNext = async (ctx: CallContext<Partial<RateLimitState>> | KoaContext, next: Next): Promise<void> => {
    const key = keyOf(ctx);
    let answer: RateLimiterRes;
    try {
      answer = await limiter.consume(key, 1);
    } catch (rejection) {
      throw refusal(ctx, key, rejection);
    }
    await admitted(ctx, answer, next);
  };

  // With the in-memory bucket, a plain function that behaves as the async one above does, as
  // a tail call (lib/core/tail-call.ts): no async frame and no await of its own per call.
  return function rate_limit(ctx: CallContext<Partial<RateLimitState>> | KoaContext, next: Next): Promise<void> {
    if (bucket === undefined) return consumeThenNext(ctx, next);
    try {
      const key = keyOf(ctx);
      let answer: RateLimiterRes;
      try {
        answer = bucket.consumeSync(key, 1);
      } catch (rejection) {
        throw refusal(ctx, key, rejection);
      }
      return admitted(ctx, answer, next);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}
