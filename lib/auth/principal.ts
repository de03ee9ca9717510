/** Who the caller is, once auth has accepted its credential. Never holds the token itself. */
export interface Principal {
  /**
   * A static token's configured name (`token#1`, `token#2`, ... when none was given), or a
   * JWT's `sub` claim (`""` when the token has none).
   */
  readonly subject: string;
  /** `"bearer"` for a static token, `"jwt"` for a verified JSON Web Token. */
  readonly scheme: "bearer" | "jwt";
  /** What the principal may do: a JWT's `scope` (space-separated) or `scp` (a list); a static token's configured scopes. */
  readonly scopes: readonly string[];
  /** A JWT's `roles` claim (a list, or one string); a static token's configured roles. */
  readonly roles: readonly string[];
  /** A JWT's verified claims; empty for a static token. */
  readonly claims: Readonly<Record<string, unknown>>;
}

const NONE: readonly string[] = Object.freeze([]);
const NO_CLAIMS: Readonly<Record<string, unknown>> = Object.freeze({});

/** Strings of a claim that is a list, or one string split at spaces; anything else is none. */
function stringsOf(claim: unknown, split: boolean): readonly string[] {
  if (typeof claim === "string") return Object.freeze(split ? claim.split(" ").filter((s) => s !== "") : [claim]);
  if (Array.isArray(claim)) return Object.freeze(claim.filter((s): s is string => typeof s === "string"));
  return NONE;
}

/** The principal of a verified JWT's claims: `sub`, the scopes of `scope` and `scp`, the `roles`. */
export function principalOfClaims(claims: Readonly<Record<string, unknown>>): Principal {
  const scopes = [...stringsOf(claims["scope"], true), ...stringsOf(claims["scp"], true)];
  return Object.freeze({
    subject: typeof claims["sub"] === "string" ? claims["sub"] : "",
    scheme: "jwt" as const,
    scopes: Object.freeze([...new Set(scopes)]),
    roles: stringsOf(claims["roles"], false),
    claims: Object.freeze({ ...claims }),
  });
}

/** The principal of a static token: its configured subject, scopes and roles. */
export function principalOfToken(subject: string, scopes: readonly string[] = NONE, roles: readonly string[] = NONE): Principal {
  return Object.freeze({ subject, scheme: "bearer" as const, scopes: Object.freeze([...scopes]), roles: Object.freeze([...roles]), claims: NO_CLAIMS });
}
