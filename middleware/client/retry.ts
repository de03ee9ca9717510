import { CallKind } from "../../lib/core/call-kind.js";
import type { Next } from "../../lib/core/middleware.js";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import { type Clock, sleep, systemClock } from "../../lib/client/clock.js";
import { type ClientMiddleware, resending } from "../../lib/client/middleware.js";
import { isStatusName, Status, type StatusName } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";

/** What {@link RetryOptions.onRetry} is told before each backoff. */
export interface RetryEvent {
  /** The attempt that just failed, from 1. */
  readonly attempt: number;
  readonly status: StatusName;
  /** How long retry will now wait. */
  readonly delayMs: number;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Attempts in all, the first included; an integer >= 1, or Infinity. Default 3. */
  readonly maxAttempts?: number;
  /** The backoff cap before the first retry, in ms; it doubles with each retry. Default 100. */
  readonly baseDelayMs?: number;
  /** The most the backoff cap grows to, in ms. Default 5000. */
  readonly maxDelayMs?: number;
  /**
   * Statuses worth another attempt. Default UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED;
   * RESOURCE_EXHAUSTED only with the server's retry hint, unless `retryExhaustedWithoutHint`.
   */
  readonly retryableStatuses?: Iterable<StatusName>;
  /**
   * Retry RESOURCE_EXHAUSTED that carries no retry hint (no RetryInfo, no pushback) too, after
   * the usual backoff. Default false: an exhausted quota that does not say when it refills is as
   * likely to be a daily quota as a rate limit, and hammering it helps no one.
   */
  readonly retryExhaustedWithoutHint?: boolean;
  /**
   * Which calls are safe to send twice: `Service/Method` names, or a predicate. Others are sent
   * once. Default `["KeyValue/Get"]`: a Put or Delete that timed out may have been applied.
   */
  readonly idempotent?: Iterable<string> | ((ctx: ClientCallContext) => boolean);
  /** Sleeps happen on this clock. Default the system clock. */
  readonly clock?: Clock;
  /** A source of numbers in [0, 1) for the jitter. Default Math.random. */
  readonly random?: () => number;
  /** Called before each backoff, e.g. to log or count retries. */
  readonly onRetry?: (event: RetryEvent, ctx: ClientCallContext) => void;
}

const DEFAULT_RETRYABLE: readonly StatusName[] = [Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.RESOURCE_EXHAUSTED];

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new TypeError(`retry(): ${name} must be a finite number >= 0`);
  return value;
}

/**
 * Sends an idempotent call again when it ends with a transient status, after an exponential
 * backoff with full jitter: before retry n (n = 1, 2, ...) it waits
 * `random() * min(maxDelayMs, baseDelayMs * 2^(n-1))` ms (AWS's "full jitter", so clients that
 * failed together do not come back together). Each attempt runs the layers inside afresh, with
 * `ctx.attempt` counting from 1.
 *
 * When the server says how long to wait (`ctx.retryAfterMs`: gRPC's google.rpc.RetryInfo or
 * `grpc-retry-pushback-ms`, gRFC A6), it waits exactly that instead of the backoff, and a
 * negative pushback means no retry. RESOURCE_EXHAUSTED is retried only with such a hint, by
 * default (`retryExhaustedWithoutHint`).
 *
 * It never retries past the call's deadline or signal: when the wait would not end before
 * `ctx.deadline` it gives up with the last attempt's outcome, and an abort during the wait ends
 * the call with the abort's status.
 *
 * Unary calls only: a streaming call (server, client or bidirectional) passes through once,
 * never retried, whatever its method and status.
 *
 * @example
 *   client.use(deadline({ timeoutMs: 1000 })).use(retry({ maxAttempts: 4, baseDelayMs: 50 }));
 */
export function retry(options: RetryOptions = {}): ClientMiddleware {
  const maxAttempts = options.maxAttempts ?? 3;
  if (!(maxAttempts === Infinity || (Number.isInteger(maxAttempts) && maxAttempts >= 1))) throw new TypeError("retry(): maxAttempts must be an integer >= 1 or Infinity");
  const baseDelayMs = nonNegative(options.baseDelayMs, 100, "baseDelayMs");
  const maxDelayMs = nonNegative(options.maxDelayMs, 5000, "maxDelayMs");
  const retryable = new Set(options.retryableStatuses ?? DEFAULT_RETRYABLE);
  for (const status of retryable) if (!isStatusName(status)) throw new TypeError(`retry(): ${String(status)} is not a status name`);
  const idempotent = options.idempotent ?? ["KeyValue/Get"];
  const isIdempotent: (ctx: ClientCallContext) => boolean =
    typeof idempotent === "function" ? idempotent : ((paths) => (ctx: ClientCallContext) => paths.has(ctx.path))(new Set(idempotent));
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  if (typeof random !== "function") throw new TypeError("retry(): random must be a function");
  const onRetry = options.onRetry;
  const retryExhaustedWithoutHint = options.retryExhaustedWithoutHint === true;

  return resending(async function retry(ctx: ClientCallContext, next: Next): Promise<void> {
    // Unary calls only: a stream's messages, once read by the server or the caller, cannot be replayed.
    if (ctx.kind !== CallKind.UNARY || !isIdempotent(ctx)) return next();
    for (let attempt = 1; ; attempt++) {
      ctx.attempt = attempt;
      await next();
      if (attempt >= maxAttempts || !retryable.has(ctx.status) || ctx.signal?.aborted) return;
      const hint = ctx.retryAfterMs;
      if (hint !== undefined && hint < 0) return; // gRFC A6: a negative pushback says "do not retry"
      if (hint === undefined && ctx.status === Status.RESOURCE_EXHAUSTED && !retryExhaustedWithoutHint) return;
      const delayMs = hint ?? random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      // A retry that could not even start before the deadline only turns this outcome into DEADLINE_EXCEEDED later.
      if (ctx.deadline !== undefined && delayMs >= ctx.deadline.remainingMs()) return;
      onRetry?.({ attempt, status: ctx.status, delayMs }, ctx);
      try {
        await sleep(clock, delayMs, ctx.signal);
      } catch (reason) {
        return ctx.fail(StatusError.from(reason));
      }
    }
  });
}
