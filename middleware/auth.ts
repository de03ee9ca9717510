import { hash, timingSafeEqual } from "node:crypto";
import type { CallContext } from "../lib/context.js";
import { type KoaContext, requestHeader } from "../lib/host.js";
import type { Next, PortableMiddleware } from "../lib/middleware.js";
import { Status } from "../lib/status.js";
import { StatusError } from "../lib/status-error.js";
import { type MethodSelector, select } from "../lib/when.js";

/** Who the caller is, once auth has accepted its token. Never holds the token itself. */
export interface Principal {
  /** The name configured for the token (`token#1`, `token#2`, ... when none was given). */
  readonly subject: string;
  readonly scheme: "bearer";
}

/** What auth adds to `ctx.state`. */
export interface AuthState {
  principal: Principal;
}

/** Options of {@link auth}. */
export interface AuthOptions {
  /**
   * The accepted bearer tokens: a list, or a map from token to the principal's subject.
   * Required: there is no default token in the library (bin/node's default is its own).
   */
  readonly tokens: Iterable<string> | ReadonlyMap<string, string>;
  /**
   * Methods that need no token ("Health/Check", "Health/*"; in Koa, paths: see MethodSelector).
   * Auth is skipped for them, exactly as `unless(publicMethods, auth(...))`: not entered, not in
   * `interceptors_applied`, no principal, so `ctx.state.principal` becomes optional in the types.
   * Default: none.
   */
  readonly publicMethods?: MethodSelector;
}

interface Known {
  readonly digest: Buffer;
  readonly principal: Principal;
}

/** `Bearer <token>`: the scheme in any case, one or more spaces, a token without whitespace. */
const BEARER = /^bearer +(\S+)$/i;

const sha256 = (text: string): Buffer => hash("sha256", text, "buffer");

// RFC 6750 challenges, sent by HTTP hosts with the 401; built once, shared by every failure.
const CHALLENGE = Object.freeze({ "WWW-Authenticate": "Bearer" });
const INVALID_TOKEN = Object.freeze({ "WWW-Authenticate": 'Bearer error="invalid_token"' });

/**
 * Accepts a call only with `authorization: Bearer <token>` metadata naming a configured token;
 * otherwise ends it with UNAUTHENTICATED. The metadata key and the scheme match in any case,
 * the token exactly. Tokens are compared as SHA-256 digests with `timingSafeEqual`, against
 * every configured token, so neither a token's content nor its length leaks through timing.
 * Adds `ctx.state.principal`.
 *
 * On the wire its name is "auth". In Koa it reads the `Authorization` header and fails with
 * 401 and `WWW-Authenticate: Bearer` (`Bearer error="invalid_token"` for a token it does not
 * know); the token never reaches a log line.
 *
 * @example
 *   app.use(auth({ tokens: new Map([["s3cret", "ci-bot"]]) }));
 *   // later: ctx.state.principal.subject === "ci-bot"
 *   app.use(auth({ tokens, publicMethods: ["Health/Check"] })); // principal: Principal | undefined
 */
export function auth(options: AuthOptions & { readonly publicMethods?: undefined }): PortableMiddleware<object, AuthState>;
export function auth(options: AuthOptions): PortableMiddleware<object, Partial<AuthState>>;
export function auth(options: AuthOptions): PortableMiddleware<object, Partial<AuthState>> {
  const known: Known[] = [];
  const entries = options?.tokens instanceof Map ? [...options.tokens] : [...(options?.tokens ?? [])].map((token, i) => [token, `token#${i + 1}`] as const);
  for (const [token, subject] of entries) {
    if (typeof token !== "string" || !/^\S+$/.test(token)) throw new TypeError("auth(): every token must be a non-empty string without whitespace");
    known.push({ digest: sha256(token), principal: Object.freeze({ subject: String(subject), scheme: "bearer" }) });
  }
  if (known.length === 0) throw new TypeError("auth(): options.tokens must name at least one token");

  const publicMethods = options.publicMethods;

  async function auth(ctx: CallContext<Partial<AuthState>> | KoaContext, next: Next): Promise<void> {
    const header = requestHeader(ctx, "authorization");
    if (header === undefined) throw new StatusError(Status.UNAUTHENTICATED, "no authorization metadata", { headers: CHALLENGE });
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) throw new StatusError(Status.UNAUTHENTICATED, "authorization is not a Bearer credential", { headers: CHALLENGE });
    const digest = sha256(token);
    let principal: Principal | undefined;
    for (const candidate of known) {
      // No early exit: every token is compared, whichever matches.
      if (timingSafeEqual(digest, candidate.digest)) principal = candidate.principal;
    }
    if (principal === undefined) throw new StatusError(Status.UNAUTHENTICATED, "unknown bearer token", { headers: INVALID_TOKEN });
    (ctx.state as Partial<AuthState>).principal = principal;
    await next();
  }
  return publicMethods === undefined ? auth : (select(publicMethods, auth, false, "auth(): publicMethods") as typeof auth);
}
