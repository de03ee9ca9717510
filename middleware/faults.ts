import type { CallContext } from "../lib/core/context.js";
import { type KoaContext, requestHeader } from "../lib/core/host-context.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";
import { methodOf } from "../lib/core/when.js";
import { type Clock, sleep, systemClock } from "../lib/client/clock.js";
import { type FaultOptions, FaultPlan } from "../lib/faults/fault-plan.js";

export type { FaultOptions, FaultRule } from "../lib/faults/fault-plan.js";

/** Options of the server's {@link faults}. */
export interface ServerFaultOptions extends FaultOptions {
  /** Timers for the delays. Default the real clock. */
  readonly clock?: Clock;
}

/**
 * Fault injection on the server: per rule, delays a share of the selected calls and aborts a
 * share of them with a chosen status (`{ methods: "KeyValue/Get", abort: "UNAVAILABLE",
 * abortPercent: 10 }`), to see how clients cope. Off unless configured; a delay ends early
 * when the call is cancelled. With `fromMetadata`, calls may ask for their own faults
 * (`x-fault-*` metadata, see {@link FaultOptions.fromMetadata}), only where the operator allows.
 *
 * On the wire its name is "faults"; an aborted call names it in `interceptor_failed`. Put it
 * right after logging, so that the log shows the delay and the abort as a caller sees them.
 *
 * @example
 *   app.use(logging()).use(faults({ rules: [{ delayMs: 50, delayPercent: 5 }, { methods: "KeyValue/Put", abort: "UNAVAILABLE", abortPercent: 1 }] }));
 */
export function faults(options: ServerFaultOptions): PortableMiddleware {
  const plan = new FaultPlan(options, "faults()");
  if (plan.empty) throw new TypeError("faults(): give rules, or fromMetadata: true");
  const clock = options.clock ?? systemClock;
  return async function faults(ctx: CallContext | KoaContext, next: Next): Promise<void> {
    const decision = plan.decide(methodOf(ctx), (name) => requestHeader(ctx, name));
    if (decision.delayMs > 0) await sleep(clock, decision.delayMs, "signal" in ctx ? ctx.signal : undefined);
    if (decision.abort !== undefined) throw decision.abort;
    await next();
  };
}
