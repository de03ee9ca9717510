import { CallContext } from "../core/context.js";
import { type HostContext, httpStatusOf } from "../core/host-context.js";
import type { StatusName } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import { statusOfHttp } from "./codes.js";

/**
 * How a call ended, in gRPC terms, for the observers (metrics, tracing) of either host: the
 * RPC host's `ctx.status`; in Koa, the status of the error on its way to Koa's `ctx.onerror`
 * (a StatusError's own code) or of the HTTP status answered.
 */
export function finalStatus(ctx: HostContext, threw: boolean, thrown: unknown): StatusName {
  if (ctx instanceof CallContext) return ctx.status;
  if (threw) return thrown instanceof StatusError ? thrown.code : statusOfHttp(httpStatusOf(thrown));
  return statusOfHttp(ctx.status);
}

/**
 * Runs `downstream` (the rest of the pipeline) and, however it ends, calls `ended` with the
 * call's {@link finalStatus} and what it threw (undefined when nothing); what it threw goes on
 * to the middleware further out. For observers that record a call once it is over.
 *
 * @example
 *   return whenEnded(ctx, next, (status) => meter.handled(status, seconds()));
 */
export async function whenEnded(ctx: HostContext, downstream: () => Promise<unknown>, ended: (status: StatusName, thrown: unknown) => void): Promise<void> {
  let threw = false;
  let thrown: unknown;
  try {
    await downstream();
  } catch (error) {
    threw = true;
    thrown = error;
    throw error;
  } finally {
    ended(finalStatus(ctx, threw, thrown), thrown);
  }
}

/** A short, safe description of a failed call: the error's message when it may be shown, else the status. */
export function failureMessage(ctx: HostContext, status: StatusName, thrown: unknown): string {
  const error = ctx instanceof CallContext ? ctx.failure?.error : thrown instanceof StatusError ? thrown : undefined;
  return error !== undefined && error.expose ? error.message : status;
}
