import type { jwtVerify as JwtVerify } from "jose";
import { jose } from "./jose.js";
import { allowedAlgorithms, type JwtKeyOptions, keySource, KeySourceUnavailable, type KeySource } from "./key-source.js";
import { type Principal, principalOfClaims } from "./principal.js";

/** Options of {@link JwtVerifier}: a key source (see {@link JwtKeyOptions}) and the claims to check. */
export type JwtVerifierOptions = JwtKeyOptions & {
  /** The `iss` a token must carry (one of these). Default: not checked. */
  readonly issuer?: string | readonly string[];
  /** The `aud` a token must carry (one of these). Default: not checked. */
  readonly audience?: string | readonly string[];
  /**
   * The `alg`s accepted, each one the key can sign with (`none` never is; HS* only with a
   * secret, the others only with a public key or JWKS). Default: every one the key can sign with.
   */
  readonly algorithms?: readonly string[];
  /** Slack for `exp` and `nbf` against clock skew. Default 5 seconds. */
  readonly clockToleranceSeconds?: number;
  /** Tokens without `exp` are refused unless this is false. Default true. */
  readonly requireExpiry?: boolean;
  /** Verified tokens remembered by their text, so that a token seen again costs a Map lookup. Default 10,000; 0 turns it off. */
  readonly maxCachedTokens?: number;
  /**
   * How long a verified token is remembered at most, whatever its `exp`: a key removed from the
   * JWKS stops vouching for its tokens after this long. Default 300,000 ms (5 minutes).
   */
  readonly maxCacheAgeMs?: number;
  /** Wall clock in ms since the epoch, for `exp`, `nbf` and the cache. Default Date.now. */
  readonly now?: () => number;
};

/** Why a token was refused: a jose error code (`ERR_JWT_EXPIRED`, ...) and, for a claim, which. */
export class JwtRejected extends Error {
  override readonly name = "JwtRejected";
  /** Machine-readable reason for the log; never the token or its claims. */
  readonly reason: string;
  /** True when the key source could not be reached: the token may be fine (UNAVAILABLE). */
  readonly unavailable: boolean;

  constructor(reason: string, unavailable: boolean, cause?: unknown) {
    super(`JWT refused: ${reason}`, cause === undefined ? undefined : { cause });
    this.reason = reason;
    this.unavailable = unavailable;
  }
}

interface Cached {
  readonly principal: Principal;
  /** Wall-clock ms after which the entry no longer vouches for the token. */
  readonly untilMs: number;
}

/** Longest token text remembered: longer ones are verified every time, so the cache's memory stays bounded. */
const MAX_CACHED_TOKEN_CHARS = 4096;

/**
 * Verifies JSON Web Tokens with jose: signature, `alg` against the allowed list, `exp` and
 * `nbf` with a small tolerance, `iss` and `aud` when configured. A verified token is remembered
 * by its exact text until its `exp` (at most `maxCacheAgeMs`), so a token seen again is
 * accepted by {@link cached} without a signature check: the same bytes carry the same
 * signature over the same claims. The cache is bounded; the oldest entry leaves first.
 *
 * @example
 *   const verifier = new JwtVerifier({ secret: process.env.JWT_SECRET!, issuer: "https://id.example" });
 *   const principal = verifier.cached(token) ?? (await verifier.verify(token));
 */
export class JwtVerifier {
  readonly #source: KeySource;
  readonly #algorithms: string[];
  readonly #issuer: string | string[] | undefined;
  readonly #audience: string | string[] | undefined;
  readonly #toleranceMs: number;
  readonly #requireExpiry: boolean;
  readonly #maxCached: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, Cached>();

  constructor(options: JwtVerifierOptions) {
    this.#source = keySource(options);
    this.#algorithms = [...allowedAlgorithms(this.#source, options.algorithms)];
    this.#issuer = options.issuer === undefined ? undefined : typeof options.issuer === "string" ? options.issuer : [...options.issuer];
    this.#audience = options.audience === undefined ? undefined : typeof options.audience === "string" ? options.audience : [...options.audience];
    const tolerance = options.clockToleranceSeconds ?? 5;
    if (!Number.isFinite(tolerance) || tolerance < 0) throw new TypeError("JWT clockToleranceSeconds must be a number >= 0");
    this.#toleranceMs = tolerance * 1000;
    this.#requireExpiry = options.requireExpiry ?? true;
    this.#maxCached = options.maxCachedTokens ?? 10_000;
    if (!Number.isInteger(this.#maxCached) || this.#maxCached < 0) throw new TypeError("JWT maxCachedTokens must be an integer >= 0");
    this.#maxAgeMs = options.maxCacheAgeMs ?? 300_000;
    if (!(this.#maxAgeMs >= 0)) throw new TypeError("JWT maxCacheAgeMs must be a number >= 0");
    this.#now = options.now ?? Date.now;
  }

  /** The key source and the checks, for a log line or `describe()`; never the secret. */
  get description(): string {
    const checks = [`alg ${this.#algorithms.join("/")}`];
    if (this.#issuer !== undefined) checks.push(`iss ${String(this.#issuer)}`);
    if (this.#audience !== undefined) checks.push(`aud ${String(this.#audience)}`);
    return `${this.#source.description}; ${checks.join("; ")}`;
  }

  /** How many verified tokens are remembered. */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /** The principal of a token verified before and still within its lifetime; undefined otherwise. */
  cached(token: string): Principal | undefined {
    const entry = this.#cache.get(token);
    if (entry === undefined) return undefined;
    if (this.#now() < entry.untilMs) return entry.principal;
    this.#cache.delete(token);
    return undefined;
  }

  /** Verifies `token`; resolves with its principal or rejects with a {@link JwtRejected}. */
  async verify(token: string): Promise<Principal> {
    const nowMs = this.#now();
    let claims: Record<string, unknown>;
    try {
      const { jwtVerify } = await jose();
      const verified = await jwtVerify(token, this.#source.key as Parameters<typeof JwtVerify>[1], {
        algorithms: this.#algorithms,
        ...(this.#issuer === undefined ? {} : { issuer: this.#issuer }),
        ...(this.#audience === undefined ? {} : { audience: this.#audience }),
        clockTolerance: this.#toleranceMs / 1000,
        currentDate: new Date(nowMs),
        requiredClaims: this.#requireExpiry ? ["exp"] : [],
      });
      claims = verified.payload;
    } catch (error) {
      throw rejection(error);
    }
    const principal = principalOfClaims(claims);
    this.#remember(token, principal, claims["exp"], nowMs);
    return principal;
  }

  #remember(token: string, principal: Principal, exp: unknown, nowMs: number): void {
    if (this.#maxCached === 0 || token.length > MAX_CACHED_TOKEN_CHARS) return;
    const expiresMs = typeof exp === "number" ? exp * 1000 + this.#toleranceMs : Infinity;
    const untilMs = Math.min(expiresMs, nowMs + this.#maxAgeMs);
    if (untilMs <= nowMs) return;
    if (this.#cache.size >= this.#maxCached) {
      // Map iterates in insertion order: the first key is the oldest entry.
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(token, { principal, untilMs });
  }
}

/** A jose failure as a {@link JwtRejected}: its code and claim only (its message may quote claims). */
function rejection(error: unknown): JwtRejected {
  if (error instanceof KeySourceUnavailable) return new JwtRejected("ERR_JWKS_UNAVAILABLE", true, error.cause);
  const { code, claim } = error as { code?: unknown; claim?: unknown };
  const reason = typeof code === "string" ? (typeof claim === "string" ? `${code} (${claim})` : code) : "ERR_JWT_INVALID";
  return new JwtRejected(reason, false);
}
