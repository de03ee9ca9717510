/**
 * Counts of answered calls: every call, and the calls each middleware ended. The node records a
 * call when its reply is written, in output order, so a stats reply counts exactly the calls
 * answered before it.
 */
export class Stats {
  #total = 0;
  readonly #failures = new Map<string, number>();

  /** Counts one call; `interceptorFailed` is the middleware that ended it, if one did. */
  record(interceptorFailed: string | undefined): void {
    this.#total++;
    if (interceptorFailed !== undefined) this.#failures.set(interceptorFailed, (this.#failures.get(interceptorFailed) ?? 0) + 1);
  }

  /** Calls counted so far. */
  get total(): number {
    return this.#total;
  }

  /** Calls ended by the middleware named `name` (its wire name, e.g. "rate_limit"). */
  failuresAt(name: string): number {
    return this.#failures.get(name) ?? 0;
  }

  /** The `stats` object of `grpc_interceptor_stats_ok`. */
  toWire(): { total_requests: number; auth_failures: number; rate_limited: number } {
    return { total_requests: this.#total, auth_failures: this.failuresAt("auth"), rate_limited: this.failuresAt("rate_limit") };
  }
}
