import type { CallContext } from "../lib/core/context.js";
import { type KoaContext, requestHeader } from "../lib/core/host-context.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";
import { Status } from "../lib/core/status.js";
import { StatusError } from "../lib/core/status-error.js";
import { tailCall } from "../lib/core/tail-call.js";
import { type MethodSelector, select } from "../lib/core/when.js";

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
  const longest = Math.max(...entries.map(([token]) => token.length));
  const width = longest <= MIN_WIDTH ? MIN_WIDTH : 2 ** Math.ceil(Math.log2(longest));
  const known: Known[] = entries.map(([token, subject]) => {
    const padded = new Uint16Array(width);
    for (let i = 0; i < token.length; i++) padded[i] = token.charCodeAt(i);
    return { padded, length: token.length, principal: Object.freeze({ subject: String(subject), scheme: "bearer" as const }) };
  });

  const publicMethods = options.publicMethods;

  /** The principal of the call's bearer token; throws UNAUTHENTICATED when there is none. */
  const authenticate = (ctx: CallContext<Partial<AuthState>> | KoaContext): Principal => {
    const header = requestHeader(ctx, "authorization");
    if (header === undefined) throw new StatusError(Status.UNAUTHENTICATED, "no authorization metadata", { headers: CHALLENGE });
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) throw new StatusError(Status.UNAUTHENTICATED, "authorization is not a Bearer credential", { headers: CHALLENGE });
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
    if (principal === undefined) throw new StatusError(Status.UNAUTHENTICATED, "unknown bearer token", { headers: INVALID_TOKEN });
    return principal;
  };

  // Behaves as `async (ctx, next) => { ...; await next(); }` does, as a tail call
  // (lib/core/tail-call.ts): no async frame and no await of its own per call.
  function auth(ctx: CallContext<Partial<AuthState>> | KoaContext, next: Next): Promise<void> {
    try {
      (ctx.state as Partial<AuthState>).principal = authenticate(ctx);
      return tailCall(next);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return publicMethods === undefined ? auth : (select(publicMethods, auth, false, "auth(): publicMethods") as typeof auth);
}
