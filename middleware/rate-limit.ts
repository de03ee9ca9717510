import type { RateLimiterRes } from "rate-limiter-flexible";
import { streamsRequests } from "../lib/core/call-kind.js";
import { CallContext } from "../lib/core/context.js";
import { clientOf, type HostContext, type KoaContext } from "../lib/core/host-context.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";
import { Status } from "../lib/core/status.js";
import { StatusError } from "../lib/core/status-error.js";
import { tailCall } from "../lib/core/tail-call.js";
import { TokenBucket } from "../lib/limiters/token-bucket.js";
import { type MethodSelector, methodMatcher, methodOf } from "../lib/core/when.js";

/** The part of a rate-limiter-flexible limiter this middleware uses. */
export interface ConsumingLimiter {
  /** Resolves when the points were taken; rejects with a RateLimiterRes when over the limit, or an Error when the store failed. */
  consume(key: string, points?: number): Promise<RateLimiterRes>;
  /** Gives points back; needed when limits are stacked, to refund a call another limit refused. */
  reward?(key: string, points?: number): Promise<unknown>;
}

/** What rateLimit adds to `ctx.state`: the limiter's answer for this call. */
export interface RateLimitState {
  rateLimit: RateLimiterRes;
}

/** What a call costs and whom it is charged to, under one limit. */
export interface LimitOptions {
  /** Any rate-limiter-flexible limiter; default a {@link TokenBucket} of `capacity` and `refillPerSecond`. */
  readonly limiter?: ConsumingLimiter;
  /** Burst size of the default token bucket. Default 10. */
  readonly capacity?: number;
  /** Refill rate of the default token bucket, tokens per second. Default 10. */
  readonly refillPerSecond?: number;
  /**
   * The budget a call is charged to. Default: the peer in the RPC host (bin/node: the
   * envelope's `src`), `ctx.ip` in Koa. It receives the host's context (a CallContext, or Koa's
   * ctx); keyByPrincipal, keyByMethod and keyByMetadata (middleware/rate-limit-keys.ts) are ready-made.
   */
  key?(ctx: HostContext): string;
  /**
   * The points a call costs: a finite number >= 0 (0 admits the call without charging it).
   * Default 1. A call that costs more than the bucket holds is always refused.
   *
   * @example
   *   cost: (ctx) => (ctx instanceof CallContext && ctx.method === "Put" ? 5 : 1)
   */
  cost?(ctx: HostContext): number;
  /**
   * Count calls against the first address in `x-forwarded-for` metadata when there is one.
   * Only behind a proxy that sets it: otherwise a client dodges its limit by inventing
   * addresses. Default false. Ignored when `key` is given, and in Koa, where `ctx.ip` already
   * follows Koa's own `app.proxy` setting.
   */
  readonly trustProxy?: boolean;
}

/** One of several stacked limits: a {@link LimitOptions} for the methods it selects. */
export interface StackedLimit extends LimitOptions {
  /** The methods charged under this limit. Default: every method. */
  readonly methods?: MethodSelector;
  /** Its name in the refusal's details and the logs. Default `limit#1`, `limit#2`, ... */
  readonly name?: string;
}

/** Options of {@link rateLimit}: one limit, or `limits` stacked. */
export interface RateLimitOptions extends LimitOptions {
  /**
   * Several limits, each charged in turn for the calls it selects (a per-principal limit and a
   * global per-method limit, say). A call is admitted only when every one of them admits it; a
   * call one refuses is charged to none: what the others took is given back. Excludes the
   * single-limit options above.
   */
  readonly limits?: readonly StackedLimit[];
  /**
   * Charge every request message of a client-streaming or bidirectional call one point too, on
   * top of the call's own cost, to each limit that charged the call: a Batch of 50 operations
   * costs 51. Over the limit, the stream ends with RESOURCE_EXHAUSTED (the handler's read of the
   * next message fails; blamed on rate_limit); a message one stacked limit refuses is charged to
   * none. Default false: a call costs its cost, whatever it streams.
   */
  readonly chargeRequestMessages?: boolean;
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

/** A limit made ready: its limiter, how it keys and costs a call, and what the RateLimit headers say of it. */
interface Limit {
  readonly name: string;
  readonly applies: ((method: { readonly service: string; readonly method: string }) => boolean) | undefined;
  readonly limiter: ConsumingLimiter;
  /** The limiter itself when it is an in-memory TokenBucket that answers without a promise. */
  readonly bucket: TokenBucket | undefined;
  readonly keyOf: (ctx: HostContext) => string;
  readonly costOf: ((ctx: HostContext) => number) | undefined;
  readonly quota: Quota;
}

function limitOf(options: StackedLimit, name: string, caller: string): Limit {
  if (options.limiter !== undefined && (options.capacity !== undefined || options.refillPerSecond !== undefined)) {
    throw new TypeError(`${caller}: pass either limiter or capacity/refillPerSecond, not both`);
  }
  if (options.limiter !== undefined && typeof options.limiter.consume !== "function") throw new TypeError(`${caller}: limiter must have consume()`);
  if (options.key !== undefined && typeof options.key !== "function") throw new TypeError(`${caller}: key must be a function`);
  if (options.cost !== undefined && typeof options.cost !== "function") throw new TypeError(`${caller}: cost must be a function`);
  const limiter = options.limiter ?? new TokenBucket({ capacity: options.capacity ?? 10, refillPerSecond: options.refillPerSecond ?? 10 });
  return {
    name,
    applies: options.methods === undefined ? undefined : methodMatcher(options.methods, caller),
    limiter,
    // The in-memory bucket answers at once: ask it without a promise (one microtask less per
    // call), unless a subclass changed what consume() does.
    bucket: limiter instanceof TokenBucket && limiter.consume === TokenBucket.prototype.consume ? limiter : undefined,
    keyOf: options.key ?? (options.trustProxy === true ? forwardedKey : clientOf),
    costOf: options.cost,
    quota: quotaOf(limiter),
  };
}

/** The points `limit` charges for the call; a cost function's bad answer is a TypeError (INTERNAL, logged). */
function costOf(limit: Limit, ctx: HostContext): number {
  if (limit.costOf === undefined) return 1;
  const points = limit.costOf(ctx);
  if (typeof points !== "number" || !Number.isFinite(points) || points < 0) throw new TypeError(`rateLimit(): cost() of ${limit.name} gave ${String(points)}, not a finite number >= 0`);
  return points;
}

/** A limit that admitted a call, and its answer. */
interface Admission {
  readonly limit: Limit;
  readonly answer: RateLimiterRes;
}

/** Points taken from one limit, to give back when a later limit refuses the call. */
interface Charge {
  readonly limit: Limit;
  readonly key: string;
  readonly points: number;
}

/** Gives back what a refused call took; a refund the store fails to take is lost (the call is refused either way). */
async function refund(charges: readonly Charge[]): Promise<void> {
  await Promise.all(charges.map(({ limit, key, points }) => Promise.resolve(limit.limiter.reward?.(key, points)).catch(() => undefined)));
}

/**
 * Charges each call to its caller's budget: `cost(ctx)` points (default 1) from the bucket of
 * `key(ctx)` (default the client). Over the limit the call ends with RESOURCE_EXHAUSTED, the
 * wait until enough points are back in the error's details as `retryAfterMs` (logged; the gRPC
 * host sends it as RetryInfo, Koa as Retry-After, bin/node on the wire only when asked to). A
 * limiter store that fails ends the call with UNAVAILABLE.
 *
 * With `limits`, several limits are stacked, each for the methods it selects, charged in
 * order: the call is admitted when all admit it, and a call one of them refuses is charged to
 * none (the points the others took are given back with `reward()` before the call ends; for
 * that moment they were held).
 *
 * On the wire its name is "rate_limit". Put it after auth (and authorize), so that refused
 * calls spend nothing.
 *
 * In Koa it counts per `ctx.ip` and answers every request with the RateLimit-Limit,
 * RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy headers of
 * draft-ietf-httpapi-ratelimit-headers-06/07 (Reset in seconds, rounded up); over the limit, with
 * 429 and `Retry-After` in seconds (rounded up) besides. With stacked limits the headers are those
 * of the limit with the fewest points left (on a 429: the one that refused). The RPC host sends none of these.
 *
 * @example
 *   app.use(rateLimit({ capacity: 20, refillPerSecond: 5 }));
 *   app.use(rateLimit({ limiter: new RateLimiterRedis({ storeClient: redis, points: 100, duration: 60 }) }));
 *   app.use(rateLimit({ limits: [
 *     { name: "per-principal", key: keyByPrincipal, capacity: 100, refillPerSecond: 10, cost: (ctx) => bytesOf(ctx) },
 *     { name: "puts", methods: "KeyValue/Put", key: keyByMethod, capacity: 1000, refillPerSecond: 500 },
 *   ] }));
 */
export function rateLimit(options: RateLimitOptions = {}): PortableMiddleware<object, RateLimitState> {
  const stacked = options.limits;
  if (stacked !== undefined) {
    const single = ["limiter", "capacity", "refillPerSecond", "key", "cost", "trustProxy"].filter((k) => (options as Record<string, unknown>)[k] !== undefined);
    if (single.length > 0) throw new TypeError(`rateLimit(): with limits, give ${single.join(", ")} per limit`);
    if (!Array.isArray(stacked) || stacked.length === 0) throw new TypeError("rateLimit(): limits must be a non-empty list");
  }
  const limits = (stacked ?? [options]).map((limit, i) => limitOf(limit, limit.name ?? `limit#${i + 1}`, "rateLimit()"));
  if (limits.length > 1 && limits.some((limit) => typeof limit.limiter.reward !== "function")) {
    throw new TypeError("rateLimit(): stacked limiters must have reward(), to give back what a refused call took");
  }

  const chargeRequestMessages = options.chargeRequestMessages === true;

  /**
   * Charges each of `charges` in turn; when one refuses, gives back what the others took and
   * throws its refusal. Resolves with the answer of the limit left with the fewest points.
   */
  const chargeAll = async (ctx: CallContext<Partial<RateLimitState>> | KoaContext, charges: readonly Charge[]): Promise<Admission | undefined> => {
    const taken: Charge[] = [];
    let tightest: Admission | undefined;
    for (const charge of charges) {
      let answer: RateLimiterRes;
      try {
        answer = await charge.limit.limiter.consume(charge.key, charge.points);
      } catch (rejection) {
        await refund(taken);
        throw refusal(ctx, charge.limit, charge.key, rejection);
      }
      taken.push(charge);
      if (tightest === undefined || answer.remainingPoints < tightest.answer.remainingPoints) tightest = { limit: charge.limit, answer };
    }
    return tightest;
  };

  /** Charges one point per request message, to every limit that charged the call, as the handler reads it. */
  const chargingEach = (ctx: CallContext<Partial<RateLimitState>>, charges: readonly Charge[]) => {
    const perMessage = charges.map((charge) => ({ ...charge, points: 1 }));
    return async function* charged(messages: AsyncIterable<unknown>): AsyncGenerator<unknown, void, undefined> {
      for await (const message of messages) {
        const admission = await chargeAll(ctx, perMessage);
        if (admission !== undefined) (ctx.state as Partial<RateLimitState>).rateLimit = admission.answer;
        yield message;
      }
    };
  };

  /**
   * Stores the limiter's answer and goes on; in an HTTP host, also sends the RateLimit headers,
   * whatever the downstream does. `charged` says whom the call was charged to, for its messages:
   * the charges, or with one limit just its key (nothing allocated per call for that).
   */
  const admitted = (ctx: CallContext<Partial<RateLimitState>> | KoaContext, limit: Limit, answer: RateLimiterRes, charged: readonly Charge[] | string, next: Next): Promise<void> => {
    (ctx.state as Partial<RateLimitState>).rateLimit = answer;
    if (ctx instanceof CallContext) {
      if (chargeRequestMessages && streamsRequests(ctx.kind)) {
        ctx.wrapRequest(chargingEach(ctx, typeof charged === "string" ? [{ limit, key: charged, points: 1 }] : charged));
      }
      return tailCall(next);
    }
    const headers = rateLimitHeaders(limit.quota, answer, false);
    setHeaders(ctx, headers);
    return nextKeepingHeaders(next, headers);
  };

  /** The error that ends a call the limiter refused: over the limit, or the limiter failed. */
  const refusal = (ctx: CallContext<Partial<RateLimitState>> | KoaContext, limit: Limit, key: string, rejection: unknown): StatusError => {
    if (!isLimiterAnswer(rejection)) return new StatusError(Status.UNAVAILABLE, "rate limiter unavailable", { cause: rejection });
    (ctx.state as Partial<RateLimitState>).rateLimit = rejection;
    const details = stacked === undefined ? { client: key, retryAfterMs: rejection.msBeforeNext } : { client: key, limit: limit.name, retryAfterMs: rejection.msBeforeNext };
    // Headers only for an HTTP host: the RPC path builds nothing it would not send.
    return ctx instanceof CallContext
      ? new StatusError(Status.RESOURCE_EXHAUSTED, "rate limit exceeded", { details })
      : new StatusError(Status.RESOURCE_EXHAUSTED, "rate limit exceeded", { details, headers: rateLimitHeaders(limit.quota, rejection, true) });
  };

  /** Every limit that selects the call, in turn, with refunds when one refuses; any limiters. */
  const consumeEach = async (ctx: CallContext<Partial<RateLimitState>> | KoaContext, next: Next): Promise<void> => {
    const method = methodOf(ctx);
    const charges: Charge[] = [];
    for (const limit of limits) {
      if (limit.applies !== undefined && !limit.applies(method)) continue;
      const points = costOf(limit, ctx);
      if (points > 0) charges.push({ limit, key: limit.keyOf(ctx), points });
    }
    const admission = await chargeAll(ctx, charges);
    if (admission === undefined) await next();
    else await admitted(ctx, admission.limit, admission.answer, charges, next);
  };

  const only = limits.length === 1 && limits[0]?.applies === undefined ? limits[0] : undefined;
  if (only === undefined) {
    return function rate_limit(ctx: CallContext<Partial<RateLimitState>> | KoaContext, next: Next): Promise<void> {
      return consumeEach(ctx, next);
    };
  }
  const bucket = only.bucket;
  if (bucket === undefined) {
    // One limit for every method, with a limiter that answers later (Redis): what consumeEach
    // does for it, with no charge list, no loop and no await of chargeAll's own. Hundreds of
    // such calls wait for Redis at once, so what each holds meanwhile counts.
    return async function rate_limit(ctx: CallContext<Partial<RateLimitState>> | KoaContext, next: Next): Promise<void> {
      const key = only.keyOf(ctx);
      const points = only.costOf === undefined ? 1 : costOf(only, ctx);
      if (points === 0) {
        await next();
        return;
      }
      let answer: RateLimiterRes;
      try {
        answer = await only.limiter.consume(key, points);
      } catch (rejection) {
        throw refusal(ctx, only, key, rejection);
      }
      await admitted(ctx, only, answer, key, next);
    };
  }
  // One in-memory bucket for every method: a plain function that behaves as the async one
  // above does, as a tail call (lib/core/tail-call.ts): no async frame and no await of its own per call.
  return function rate_limit(ctx: CallContext<Partial<RateLimitState>> | KoaContext, next: Next): Promise<void> {
    try {
      const key = only.keyOf(ctx);
      const points = only.costOf === undefined ? 1 : costOf(only, ctx);
      if (points === 0) return tailCall(next);
      let answer: RateLimiterRes;
      try {
        answer = bucket.consumeSync(key, points);
      } catch (rejection) {
        throw refusal(ctx, only, key, rejection);
      }
      return admitted(ctx, only, answer, key, next);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}
