import { timingSafeEqual } from "node:crypto";
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
  /** The token's UTF-8 bytes, zero-padded to the comparison width. */
  readonly padded: Buffer;
  /** The token's length in UTF-8 bytes. */
  readonly bytes: number;
  readonly principal: Principal;
}

/** `Bearer <token>`: the scheme in any case, one or more spaces, a token without whitespace. */
const BEARER = /^bearer +(\S+)$/i;

/** The smallest comparison width: tokens up to this many bytes do not show their length. */
const MIN_WIDTH = 64;

// RFC 6750 challenges, sent by HTTP hosts with the 401; built once, shared by every failure.
const CHALLENGE = Object.freeze({ "WWW-Authenticate": "Bearer" });
const INVALID_TOKEN = Object.freeze({ "WWW-Authenticate": 'Bearer error="invalid_token"' });

/**
 * Accepts a call only with `authorization: Bearer <token>` metadata naming a configured token;
 * otherwise ends it with UNAUTHENTICATED. The metadata key and the scheme match in any case,
 * the token exactly. The presented token is compared with `timingSafeEqual` against every
 * configured token, each zero-padded to one fixed width, and its byte length separately, so
 * neither a token's content nor its length leaks through timing (see the comment in the body).
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
  const entries = options?.tokens instanceof Map ? [...options.tokens] : [...(options?.tokens ?? [])].map((token, i) => [token, `token#${i + 1}`] as const);
  for (const [token] of entries) {
    if (typeof token !== "string" || !/^\S+$/.test(token)) throw new TypeError("auth(): every token must be a non-empty string without whitespace");
  }
  if (entries.length === 0) throw new TypeError("auth(): options.tokens must name at least one token");
  // The width every comparison uses: at least MIN_WIDTH, else the longest token rounded up to
  // a power of two, so that it says next to nothing about the tokens' lengths.
  const longest = Math.max(...entries.map(([token]) => Buffer.byteLength(token)));
  const width = longest <= MIN_WIDTH ? MIN_WIDTH : 2 ** Math.ceil(Math.log2(longest));
  const known: Known[] = entries.map(([token, subject]) => {
    const padded = Buffer.alloc(width);
    padded.write(token, "utf8");
    return { padded, bytes: Buffer.byteLength(token), principal: Object.freeze({ subject: String(subject), scheme: "bearer" as const }) };
  });
  /** Holds the presented token for the comparison; reused, as the comparison never awaits. */
  const presented = Buffer.alloc(width);

  const publicMethods = options.publicMethods;

  /** The principal of the call's bearer token; throws UNAUTHENTICATED when there is none. */
  const authenticate = (ctx: CallContext<Partial<AuthState>> | KoaContext): Principal => {
    const header = requestHeader(ctx, "authorization");
    if (header === undefined) throw new StatusError(Status.UNAUTHENTICATED, "no authorization metadata", { headers: CHALLENGE });
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) throw new StatusError(Status.UNAUTHENTICATED, "authorization is not a Bearer credential", { headers: CHALLENGE });
    // Constant time with respect to the configured tokens: the presented token's UTF-8 bytes go
    // into a zeroed buffer of the fixed width (truncated when longer, and then the length check
    // fails); every configured token is compared over that whole width with timingSafeEqual and
    // by byte length with an integer comparison, both always evaluated, no early exit. Whatever
    // takes time in proportion to a length depends on the presented token or the fixed width,
    // never on a configured token. Same bytes and same length <=> same token, as when both were
    // SHA-256 digests; padding instead of hashing saves a digest per call (7% of bin/node's CPU
    // time, issue 6).
    const bytes = Buffer.byteLength(token);
    presented.fill(0);
    presented.write(token, "utf8");
    let principal: Principal | undefined;
    for (const candidate of known) {
      const same = Number(timingSafeEqual(presented, candidate.padded)) & Number(bytes === candidate.bytes);
      if (same === 1) principal = candidate.principal;
    }
    if (principal === undefined) throw new StatusError(Status.UNAUTHENTICATED, "unknown bearer token", { headers: INVALID_TOKEN });
    return principal;
  };

  // A plain function that behaves as `async (ctx, next) => { ...; await next(); }` does (it
  // never throws; it answers with a promise that settles as next()'s does, or rejects), without
  // an async frame and an await per call (with rate_limit's, 6-11% of bin/node's CPU, issue 6).
  function auth(ctx: CallContext<Partial<AuthState>> | KoaContext, next: Next): Promise<void> {
    try {
      (ctx.state as Partial<AuthState>).principal = authenticate(ctx);
      return Promise.resolve(next());
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return publicMethods === undefined ? auth : (select(publicMethods, auth, false, "auth(): publicMethods") as typeof auth);
}
