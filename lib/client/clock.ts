import { performance } from "node:perf_hooks";

/**
 * Time as the client middleware see it: a millisecond clock and one-shot timers. Deadlines,
 * retry backoff and cache expiry all take one, so specs can drive time by hand instead of
 * waiting for it.
 *
 * @example
 *   retry({ clock: myFakeClock, random: () => 0.5 })
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Calls `callback` once, `ms` from now; the handle goes to {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer that has not fired; a handle that has fired or was cleared is ignored. */
  clearTimeout(handle: unknown): void;
}

/** The real clock: `performance.now()` (monotonic) and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Resolves after `ms` on `clock`; rejects with `signal.reason` as soon as `signal` aborts.
 * Either way the timer and the abort listener are released, so nothing outlives the wait.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
