import type { CallContext } from "../lib/core/context.js";
import { type KoaContext, requestHeader } from "../lib/core/host-context.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";
import { Status } from "../lib/core/status.js";
import { StatusError } from "../lib/core/status-error.js";
import { tailCall } from "../lib/core/tail-call.js";
import { type MethodSelector, select } from "../lib/core/when.js";
import { JwtRejected, JwtVerifier, type JwtVerifierOptions } from "../lib/auth/jwt-verifier.js";
import { type Principal, principalOfToken } from "../lib/auth/principal.js";

export type { Principal } from "../lib/auth/principal.js";

/** What auth adds to `ctx.state`. */
export interface AuthState {
  principal: Principal;
}

/** A static token's principal: its subject, and what it may do (for {@link authorize}). */
export interface StaticPrincipal {
  readonly subject: string;
  readonly scopes?: readonly string[];
  readonly roles?: readonly string[];
}

/** Options of {@link auth}: static `tokens`, `jwt`, or both. */
export interface AuthOptions {
  /**
   * Accepted static bearer tokens: a list (subjects `token#1`, `token#2`, ...), or a map from
   * token to its subject or its {@link StaticPrincipal}. There is no default token in the
   * library (bin/node's default is its own).
   */
  readonly tokens?: Iterable<string> | ReadonlyMap<string, string | StaticPrincipal>;
  /**
   * Accept JSON Web Tokens verified with these options (a key source, issuer, audience,
   * algorithms: see {@link JwtVerifierOptions}), or by this verifier.
   */
  readonly jwt?: JwtVerifierOptions | JwtVerifier;
  /**
   * Methods that need no token ("Health/Check", "Health/*"; in Koa, paths: see MethodSelector).
   * Auth is skipped for them, exactly as `unless(publicMethods, auth(...))`: not entered, not in
   * `interceptors_applied`, no principal, so `ctx.state.principal` becomes optional in the types.
   * Default: none.
   */
  readonly publicMethods?: MethodSelector;
}

interface Known {
  /** The token's UTF-16 code units, zero-padded to the comparison width. */
  readonly padded: Uint16Array;
  /** The token's length in UTF-16 code units. */
  readonly length: number;
  readonly principal: Principal;
}

/** `Bearer <token>`: the scheme in any case, one or more spaces, a token without whitespace. */
const BEARER = /^bearer +(\S+)$/i;

/** The smallest comparison width: tokens up to this many bytes do not show their length. */
const MIN_WIDTH = 64;

// RFC 6750 challenges, sent by HTTP hosts with the 401; built once, shared by every failure.
const CHALLENGE = Object.freeze({ "WWW-Authenticate": "Bearer" });
const INVALID_TOKEN = Object.freeze({ "WWW-Authenticate": 'Bearer error="invalid_token"' });

/** The static tokens' comparison table; see the comment in {@link staticTokens}'s matcher. */
type StaticMatcher = (token: string) => Principal | undefined;

/** The static tokens as a constant-time matcher, or undefined when there are none. */
function staticTokens(tokens: AuthOptions["tokens"]): StaticMatcher | undefined {
  if (tokens === undefined) return undefined;
  const entries: (readonly [string, string | StaticPrincipal])[] =
    tokens instanceof Map ? [...tokens] : [...(tokens as Iterable<string>)].map((token, i) => [token, `token#${i + 1}`] as const);
  for (const [token] of entries) {
    if (typeof token !== "string" || !/^\S+$/.test(token)) throw new TypeError("auth(): every token must be a non-empty string without whitespace");
  }
  if (entries.length === 0) throw new TypeError("auth(): options.tokens must name at least one token");
  // The width every comparison uses: at least MIN_WIDTH, else the longest token rounded up to
  // a power of two, so that it says next to nothing about the tokens' lengths.
  const longest = Math.max(...entries.map(([token]) => token.length));
  const width = longest <= MIN_WIDTH ? MIN_WIDTH : 2 ** Math.ceil(Math.log2(longest));
  const known: Known[] = entries.map(([token, named]) => {
    const padded = new Uint16Array(width);
    for (let i = 0; i < token.length; i++) padded[i] = token.charCodeAt(i);
    const principal = typeof named === "string" ? principalOfToken(named) : principalOfToken(String(named?.subject), named?.scopes, named?.roles);
    return { padded, length: token.length, principal };
  });
  return (token) => {
    // Constant time with respect to the configured tokens: every configured token is compared
    // with the presented one over the whole fixed width, code unit by code unit (the presented
    // token's units past its end read as 0; past the width, they are cut off), the differences
    // OR-ed together with the two lengths' difference; no early
    // exit, no branch on a configured token's content or length. What takes time in proportion
    // to a length depends on the fixed width, never on a configured token. Zero difference <=>
    // same units and same length <=> same token. Plain integer arithmetic instead of
    // crypto.timingSafeEqual over padded Buffers: measured, those Buffer writes and the native
    // call cost a tenth of the pipeline's time; hashing both sides costs more still.
    const length = token.length;
    const compared = length < width ? length : width;
    let principal: Principal | undefined;
    for (const candidate of known) {
      const padded = candidate.padded;
      let diff = length ^ candidate.length;
      let i = 0;
      for (; i < compared; i++) diff |= token.charCodeAt(i) ^ (padded[i] as number);
      for (; i < width; i++) diff |= padded[i] as number;
      if (diff === 0) principal = candidate.principal;
    }
    return principal;
  };
}

/** A JWT the verifier refused, as the call's error: UNAUTHENTICATED, or UNAVAILABLE when its keys could not be fetched. */
function jwtFailure(error: unknown): StatusError {
  if (error instanceof JwtRejected && error.unavailable) {
    return new StatusError(Status.UNAVAILABLE, "JWT signing keys unavailable", { details: { reason: error.reason }, cause: error.cause });
  }
  const reason = error instanceof JwtRejected ? error.reason : "ERR_JWT_INVALID";
  return new StatusError(Status.UNAUTHENTICATED, "invalid bearer token", { details: { reason }, headers: INVALID_TOKEN });
}

/**
 * Accepts a call only with `authorization: Bearer <token>` metadata naming a configured static
 * token or carrying a JWT the `jwt` options verify; otherwise ends it with UNAUTHENTICATED
 * (UNAVAILABLE when a JWKS URL cannot be fetched: the token may be fine). The metadata key and
 * the scheme match in any case, the token exactly. Adds `ctx.state.principal`, with the
 * subject, scopes, roles and (for a JWT) claims that {@link authorize} reads.
 *
 * Static tokens are compared with every configured token over one fixed width, and their byte
 * length separately, so neither a token's content nor its length leaks through timing (see the
 * comment in {@link staticTokens}). A JWT is verified by a {@link JwtVerifier}: signature,
 * allowed `alg` (never `none`; HS* only with a secret), `exp`/`nbf`, `iss`/`aud`; a token seen
 * before is accepted from its cache without a signature check. The reason a token was refused
 * goes into the error's details (`reason`, logged at debug by `logging()`); the token never
 * reaches a log line or an error.
 *
 * On the wire its name is "auth". In Koa it reads the `Authorization` header and fails with
 * 401 and `WWW-Authenticate: Bearer` (`Bearer error="invalid_token"` for a token it does not
 * accept).
 *
 * @example
 *   app.use(auth({ tokens: new Map([["s3cret", { subject: "ci-bot", scopes: ["kv:read"] }]]) }));
 *   app.use(auth({ jwt: { jwksUrl: "https://id.example/jwks.json", issuer: "https://id.example", audience: "kv" } }));
 *   app.use(auth({ tokens, publicMethods: ["Health/Check"] })); // principal: Principal | undefined
 */
export function auth(options: AuthOptions & { readonly publicMethods?: undefined }): PortableMiddleware<object, AuthState>;
export function auth(options: AuthOptions): PortableMiddleware<object, Partial<AuthState>>;
export function auth(options: AuthOptions): PortableMiddleware<object, Partial<AuthState>> {
  if (options?.tokens === undefined && options?.jwt === undefined) throw new TypeError("auth(): give options.tokens, options.jwt, or both");
  const matchStatic = staticTokens(options.tokens);
  const verifier = options.jwt === undefined ? undefined : options.jwt instanceof JwtVerifier ? options.jwt : new JwtVerifier(options.jwt);
  const publicMethods = options.publicMethods;

  /** The call's bearer token; throws UNAUTHENTICATED when there is none. */
  const bearerOf = (ctx: CallContext<Partial<AuthState>> | KoaContext): string => {
    const header = requestHeader(ctx, "authorization");
    if (header === undefined) throw new StatusError(Status.UNAUTHENTICATED, "no authorization metadata", { headers: CHALLENGE });
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) throw new StatusError(Status.UNAUTHENTICATED, "authorization is not a Bearer credential", { headers: CHALLENGE });
    return token;
  };

  /** A JWT not in the cache: verified, then the rest of the pipeline. */
  const verifyThenNext = (ctx: CallContext<Partial<AuthState>> | KoaContext, token: string, next: Next): Promise<void> =>
    (verifier as JwtVerifier).verify(token).then(
      (principal) => {
        (ctx.state as Partial<AuthState>).principal = principal;
        return next();
      },
      (error: unknown) => {
        throw jwtFailure(error);
      },
    );

  // Behaves as `async (ctx, next) => { ...; await next(); }` does, as a tail call
  // (lib/core/tail-call.ts) whenever the principal is known at once (a static token, a cached
  // JWT): no async frame and no await of its own per call.
  function auth(ctx: CallContext<Partial<AuthState>> | KoaContext, next: Next): Promise<void> {
    try {
      const token = bearerOf(ctx);
      const principal = matchStatic?.(token) ?? verifier?.cached(token);
      if (principal === undefined) {
        if (verifier !== undefined) return verifyThenNext(ctx, token, next);
        throw new StatusError(Status.UNAUTHENTICATED, "unknown bearer token", { headers: INVALID_TOKEN });
      }
      (ctx.state as Partial<AuthState>).principal = principal;
      return tailCall(next);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return publicMethods === undefined ? auth : (select(publicMethods, auth, false, "auth(): publicMethods") as typeof auth);
}
