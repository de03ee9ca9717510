import type { Next } from "../../lib/core/middleware.js";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import type { ClientMiddleware } from "../../lib/client/middleware.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";

/** Options of {@link credentials}. */
export interface CredentialsOptions {
  /**
   * The bearer token: a string, or a function asked for it on each call (for tokens that
   * expire). Either way a non-empty string without whitespace.
   */
  readonly token: string | (() => string | Promise<string>);
}

const TOKEN = /^\S+$/;

/**
 * Call credentials: adds `authorization: Bearer <token>` to the outgoing metadata, what the
 * server's `auth()` checks. A call that already carries `authorization` metadata keeps it, so
 * one call can speak for someone else. The token never appears in logs (`logging()` redacts
 * it) or in error messages.
 *
 * Put it after `retry()` with a token function to fetch a fresh token for every attempt.
 *
 * @example
 *   client.use(credentials({ token: process.env.RPC_TOKEN ?? "" })); // throws now if empty
 *   client.use(credentials({ token: () => tokenStore.current() }));
 */
export function credentials(options: CredentialsOptions): ClientMiddleware {
  const token = options?.token;
  if (typeof token === "string") {
    if (!TOKEN.test(token)) throw new TypeError("credentials(): token must be a non-empty string without whitespace");
    const header = `Bearer ${token}`;
    return async function credentials(ctx: ClientCallContext, next: Next): Promise<void> {
      if (!ctx.metadata.has("authorization")) ctx.metadata.set("authorization", header);
      await next();
    };
  }
  if (typeof token !== "function") throw new TypeError("credentials(): token must be a string or a function returning one");
  return async function credentials(ctx: ClientCallContext, next: Next): Promise<void> {
    if (!ctx.metadata.has("authorization")) {
      const current = await token();
      if (typeof current !== "string" || !TOKEN.test(current)) throw new StatusError(Status.UNAUTHENTICATED, "credentials(): the token function gave no usable token");
      ctx.metadata.set("authorization", `Bearer ${current}`);
    }
    await next();
  };
}
