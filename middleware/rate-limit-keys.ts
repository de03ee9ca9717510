import { clientOf, type HostContext, requestHeader } from "../lib/core/host-context.js";
import { methodOf } from "../lib/core/when.js";
import type { AuthState } from "./auth.js";

// Ready-made `key(ctx)` functions of rateLimit(): whose budget a call is charged to.

/** Charges a call to its principal's subject (`principal:<sub>`), or, with none, to its client (`client:<peer>`). */
export function keyByPrincipal(ctx: HostContext): string {
  const principal = (ctx.state as Partial<AuthState>).principal;
  return principal === undefined ? `client:${clientOf(ctx)}` : `principal:${principal.subject}`;
}

/** Charges a call to its method (`Service/Method`): one budget per method, shared by every caller. */
export function keyByMethod(ctx: HostContext): string {
  const { service, method } = methodOf(ctx);
  return `${service}/${method}`;
}

/**
 * Charges a call to the value of one metadata entry (an HTTP header in Koa), `name:value`; a
 * call without it to its client (`client:<peer>`). Only for metadata the caller cannot choose
 * freely (set by a trusted proxy, or vouched for by auth), or a client dodges its limit.
 */
export function keyByMetadata(name: string): (ctx: HostContext) => string {
  if (typeof name !== "string" || name === "") throw new TypeError("keyByMetadata(): name must be a non-empty string");
  const lower = name.toLowerCase();
  return function keyByMetadata(ctx: HostContext): string {
    const value = requestHeader(ctx, lower);
    return value === undefined ? `client:${clientOf(ctx)}` : `${lower}:${value}`;
  };
}
