/**
 * Two middleware of your own, as README.md "Write your own middleware" shows them: one for the
 * RPC pipeline only, typed by what it needs and adds; one portable to Koa.
 * In another project the import is `from "rpc-interceptors"`.
 */
import { CallContext, type KoaContext, type Middleware, type Next, type PortableMiddleware, type Principal, requestHeader, Status, StatusError } from "../index.js";

/** Lets through only principals of `tenant` (subjects `tenant/...`); adds the tenant for those after it. */
export function tenantOnly(tenant: string): Middleware<{ principal: Principal }, { tenant: string }> {
  if (tenant === "") throw new TypeError("tenantOnly(): tenant must not be empty");
  return async function tenant_only(ctx, next) {
    if (!ctx.state.principal.subject.startsWith(`${tenant}/`)) throw new StatusError(Status.PERMISSION_DENIED, "wrong tenant");
    ctx.state.tenant = tenant;
    await next();
  };
}

/** Fails a call (RPC: INVALID_ARGUMENT; Koa: 400) that lacks the metadata entry / header `name`. */
export function requireHeader(name: string): PortableMiddleware {
  if (name === "") throw new TypeError("requireHeader(): name must not be empty");
  return async function require_header(ctx: CallContext | KoaContext, next: Next) {
    if (requestHeader(ctx, name) === undefined) throw new StatusError(Status.INVALID_ARGUMENT, `${name} is required`);
    if (!(ctx instanceof CallContext)) ctx.set("Vary", name); // host-specific detail, HTTP only
    await next();
  };
}
