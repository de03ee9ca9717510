import type { KeyObject } from "node:crypto";
import type { JSONWebKeySet, JWTVerifyGetKey } from "jose";
import { jose } from "./jose.js";
import { requireCommonJs } from "../core/require-common-js.js";

/**
 * node:crypto, loaded when a key is first made: it brings some twenty built-in modules with it,
 * which a node configured without JWT keys would load at every start for nothing.
 */
const crypto = (): typeof import("node:crypto") => requireCommonJs("node:crypto");

/**
 * Where the keys that sign accepted JWTs come from: exactly one of
 * - `secret`: a shared HMAC secret (HS256/384/512), at least 32 bytes;
 * - `publicKey`: one public key, PEM text (SPKI or PKCS#1) or a KeyObject (RS*, PS*, ES*, EdDSA);
 * - `jwks`: a JSON Web Key Set document (`{ "keys": [...] }`), keys chosen by the token's `kid`;
 * - `jwksUrl`: a JWKS served over https, fetched on first use and cached (see {@link JwksUrlOptions}).
 */
export type JwtKeyOptions =
  | { readonly secret: string | Uint8Array }
  | { readonly publicKey: string | KeyObject }
  | { readonly jwks: JSONWebKeySet }
  | ({ readonly jwksUrl: string | URL } & JwksUrlOptions);

/** How a JWKS URL is fetched and cached. */
export interface JwksUrlOptions {
  /**
   * Allow `http://` for a loopback host (127.0.0.1, ::1, localhost), for tests and local
   * development; every other URL must be https. Default false.
   */
  readonly allowInsecureLoopback?: boolean;
  /** How long a fetch may take before the call fails with UNAVAILABLE. Default 5000 ms. */
  readonly timeoutMs?: number;
  /**
   * After a fetch, how long a token with an unknown `kid` waits before it may cause another
   * fetch (a token with a made-up `kid` cannot make the node hammer the JWKS). Default 30000 ms.
   */
  readonly cooldownMs?: number;
  /** How long fetched keys are used before the set is fetched again. Default 600000 ms (10 minutes). */
  readonly cacheMaxAgeMs?: number;
}

/** A key source made ready for jose's jwtVerify, with the algorithms its kind of key may sign with. */
export interface KeySource {
  readonly key: KeyObject | JWTVerifyGetKey;
  /** Every algorithm a token may state for this source; the default for `algorithms`. */
  readonly algorithms: readonly string[];
  /** Whether the source is fetched over the network, so that its failure is UNAVAILABLE, not the caller's fault. */
  readonly remote: boolean;
  /** The source for a log line: its kind and, for a URL, the URL; never the secret. */
  readonly description: string;
}

/** Thrown by a remote key source that could not be fetched: the caller's token may be fine. */
export class KeySourceUnavailable extends Error {
  override readonly name = "KeySourceUnavailable";
}

const HMAC = ["HS256", "HS384", "HS512"] as const;
const RSA = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const;
const EC_BY_CURVE: Readonly<Record<string, string>> = { prime256v1: "ES256", secp384r1: "ES384", secp521r1: "ES512" };
const ASYMMETRIC = [...RSA, "ES256", "ES384", "ES512", "EdDSA", "Ed25519"] as const;
/** RFC 7518 3.2: an HMAC key at least as long as the hash output; HS256's is 32 bytes. */
const MIN_SECRET_BYTES = 32;
const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);
/** jose errors that say the token is at fault (no key for its kid or alg), not the JWKS endpoint. */
const TOKEN_FAULTS = new Set(["ERR_JWKS_NO_MATCHING_KEY", "ERR_JWKS_MULTIPLE_MATCHING_KEYS", "ERR_JOSE_NOT_SUPPORTED", "ERR_JOSE_ALG_NOT_ALLOWED"]);

function algorithmsOfPublicKey(key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return RSA;
    case "rsa-pss":
      return RSA.filter((alg) => alg.startsWith("PS"));
    case "ec": {
      const alg = EC_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ""];
      if (alg === undefined) throw new TypeError(`JWT public key: unsupported curve ${String(key.asymmetricKeyDetails?.namedCurve)}`);
      return [alg];
    }
    case "ed25519":
      return ["EdDSA", "Ed25519"];
    default:
      throw new TypeError(`JWT public key: unsupported key type ${String(key.asymmetricKeyType)}`);
  }
}

/** A key set that jose makes on the first token that needs it (jose is loaded then, not at start). */
function madeOnFirstUse(make: (loaded: typeof import("jose")) => JWTVerifyGetKey): JWTVerifyGetKey {
  let made: Promise<JWTVerifyGetKey> | undefined;
  return async (header, token) => (await (made ??= jose().then(make)))(header, token);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new TypeError(`JWT ${name} must be a number >= 0, got ${String(value)}`);
  return v;
}

/** The remote JWKS, with the https rule and its failures told apart from the token's. */
function remoteSource(options: { readonly jwksUrl: string | URL } & JwksUrlOptions): KeySource {
  let url: URL;
  try {
    url = new URL(options.jwksUrl);
  } catch {
    throw new TypeError("JWT jwksUrl must be a URL");
  }
  const insecureAllowed = options.allowInsecureLoopback === true && url.protocol === "http:" && LOOPBACK.has(url.hostname);
  if (url.protocol !== "https:" && !insecureAllowed) throw new TypeError(`JWT jwksUrl must be https (http only for a loopback host with allowInsecureLoopback), got ${url.protocol}`);
  const fetching = {
    timeoutDuration: positive(options.timeoutMs, 5000, "timeoutMs"),
    cooldownDuration: positive(options.cooldownMs, 30_000, "cooldownMs"),
    cacheMaxAge: positive(options.cacheMaxAgeMs, 600_000, "cacheMaxAgeMs"),
  };
  const remote = madeOnFirstUse(({ createRemoteJWKSet }) => createRemoteJWKSet(url, fetching));
  const key: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (TOKEN_FAULTS.has((error as { code?: string }).code ?? "")) throw error;
      throw new KeySourceUnavailable(`JWKS ${url.origin}${url.pathname} could not be fetched`, { cause: error });
    }
  };
  return { key, algorithms: ASYMMETRIC, remote: true, description: `jwks ${url.origin}${url.pathname}` };
}

/**
 * Makes the key source ready: imports the secret or the PEM key, reads the JWKS document, or
 * prepares the fetch of a JWKS URL (nothing is fetched until a token needs it). Throws a
 * TypeError for a key that cannot serve (a short secret, an unsupported key type, a plain-http URL).
 */
export function keySource(options: JwtKeyOptions): KeySource {
  const kinds = ["secret", "publicKey", "jwks", "jwksUrl"].filter((kind) => (options as Record<string, unknown>)?.[kind] !== undefined);
  if (kinds.length !== 1) throw new TypeError(`JWT: give exactly one of secret, publicKey, jwks, jwksUrl (got ${kinds.length === 0 ? "none" : kinds.join(", ")})`);
  if ("secret" in options && options.secret !== undefined) {
    const bytes = typeof options.secret === "string" ? Buffer.from(options.secret, "utf8") : Buffer.from(options.secret);
    if (bytes.length < MIN_SECRET_BYTES) throw new TypeError(`JWT secret must be at least ${MIN_SECRET_BYTES} bytes`);
    return { key: crypto().createSecretKey(bytes), algorithms: HMAC, remote: false, description: "secret" };
  }
  if ("publicKey" in options && options.publicKey !== undefined) {
    let key: KeyObject;
    try {
      key = typeof options.publicKey === "string" ? crypto().createPublicKey(options.publicKey) : options.publicKey;
    } catch (error) {
      throw new TypeError(`JWT publicKey is not a PEM public key: ${(error as Error).message}`);
    }
    if (key.type !== "public") throw new TypeError("JWT publicKey must be a public key");
    return { key, algorithms: algorithmsOfPublicKey(key), remote: false, description: `public key (${String(key.asymmetricKeyType)})` };
  }
  if ("jwks" in options && options.jwks !== undefined) {
    if (!Array.isArray(options.jwks.keys)) throw new TypeError('JWT jwks must be a JSON Web Key Set: { "keys": [...] }');
    if (options.jwks.keys.some((jwk) => jwk.kty === "oct")) throw new TypeError("JWT jwks must hold public keys only (no kty oct)");
    const jwks = options.jwks;
    return { key: madeOnFirstUse(({ createLocalJWKSet }) => createLocalJWKSet(jwks)), algorithms: ASYMMETRIC, remote: false, description: `jwks (${jwks.keys.length} keys)` };
  }
  return remoteSource(options as { readonly jwksUrl: string | URL } & JwksUrlOptions);
}

/** The algorithms to accept: `wanted`, each of which the source's kind of key can sign with, or the source's own. */
export function allowedAlgorithms(source: KeySource, wanted: readonly string[] | undefined): readonly string[] {
  if (wanted === undefined) return source.algorithms;
  if (wanted.length === 0) throw new TypeError("JWT algorithms must name at least one algorithm");
  for (const alg of wanted) {
    if (!source.algorithms.includes(alg)) {
      throw new TypeError(`JWT algorithm ${JSON.stringify(alg)} does not fit the ${source.description} key (allowed: ${source.algorithms.join(", ")})`);
    }
  }
  return [...wanted];
}
