import type { ClientCallContext } from "../../lib/client/call-context.js";
import { type Clock, sleep, systemClock } from "../../lib/client/clock.js";
import type { ClientMiddleware } from "../../lib/client/middleware.js";
import type { Next } from "../../lib/core/middleware.js";
import { type FaultOptions, FaultPlan } from "../../lib/faults/fault-plan.js";

/** Options of the client's {@link faults}. */
export interface ClientFaultOptions extends FaultOptions {
  /** Timers for the delays. Default the real clock. */
  readonly clock?: Clock;
}

/**
 * Fault injection on the way out: per rule, delays a share of the selected calls before they
 * are sent and fails a share of them with a chosen status without sending them, to see how
 * the application (and `retry()`) copes. Off unless configured. With `fromMetadata` the call's
 * own `x-fault-*` metadata asks for faults (and is still sent on to the server).
 *
 * Put it last (closest to the network) to fault each attempt of `retry()`, or before
 * `retry()` to fault the call as a whole.
 *
 * @example
 *   client.use(retry()).use(faults({ rules: [{ abort: "UNAVAILABLE", abortPercent: 20 }] }));
 */
export function faults(options: ClientFaultOptions): ClientMiddleware {
  const plan = new FaultPlan(options, "client faults()");
  if (plan.empty) throw new TypeError("client faults(): give rules, or fromMetadata: true");
  const clock = options.clock ?? systemClock;
  return async function faults(ctx: ClientCallContext, next: Next): Promise<void> {
    const decision = plan.decide(ctx, (name) => ctx.metadata.get(name));
    if (decision.delayMs > 0) await sleep(clock, decision.delayMs, ctx.signal);
    if (decision.abort !== undefined) throw decision.abort;
    await next();
  };
}
