import type { Next } from "../../lib/core/middleware.js";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import { type Clock, systemClock } from "../../lib/client/clock.js";
import { checkTimeoutMs, withDeadline } from "../../lib/client/deadline.js";
import type { ClientMiddleware } from "../../lib/client/middleware.js";

/** Options of {@link deadline}. */
export interface DeadlineOptions {
  /** How long the layers inside may take, in ms, from when the call reaches this middleware. */
  readonly timeoutMs: number;
  /** Default the system clock; a fake one in specs. */
  readonly clock?: Clock;
}

/**
 * Gives the call a deadline: the layers inside see `ctx.signal` abort when the time is up,
 * and the call ends DEADLINE_EXCEEDED right then (the transports stop waiting). The timer is
 * released in `finally`, so a call that ends early leaves nothing behind. A deadline already
 * set further out (a call's `timeoutMs`, another `deadline()`) that is sooner wins.
 *
 * Propagation: `ctx.deadline` holds the deadline, and the client sends the budget left as each
 * attempt leaves in `grpc-timeout` metadata (`"742m"` = 742 ms, gRPC's format), so the server
 * can see how long the caller will wait.
 *
 * Where it goes decides what it bounds: before `retry()` it is the budget for all attempts and
 * retry never sleeps past it; after `retry()` each attempt gets its own.
 *
 * @example
 *   client.use(deadline({ timeoutMs: 2000 })).use(retry());       // 2 s for the whole call
 *   client.use(retry()).use(deadline({ timeoutMs: 300 }));        // 300 ms per attempt
 */
export function deadline(options: DeadlineOptions): ClientMiddleware {
  const timeoutMs = checkTimeoutMs(options?.timeoutMs, "deadline()");
  const clock = options.clock ?? systemClock;
  return async function deadline(ctx: ClientCallContext, next: Next): Promise<void> {
    await withDeadline(ctx, timeoutMs, clock, next);
  };
}
