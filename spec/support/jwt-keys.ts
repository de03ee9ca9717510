import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

/** A signing key made at test time, with its public half in the forms the key sources read. */
export interface TestKey {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicPem: string;
  readonly publicJwk: JWK;
}

/** A fresh key pair for `alg` (RS256, ES256, EdDSA, ...). */
export async function testKey(alg: string, kid = `${alg.toLowerCase()}-1`): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicPem: await exportSPKI(publicKey), publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/** What {@link signToken} puts into a token besides its claims. */
export interface SignOptions {
  readonly alg: string;
  readonly kid?: string;
  readonly issuer?: string;
  readonly audience?: string;
  readonly subject?: string;
  /** Seconds since the epoch; default an hour from now. */
  readonly exp?: number;
  readonly nbf?: number;
}

/** A compact JWS of `claims` signed with `key` (a CryptoKey, or secret bytes). */
export function signToken(key: CryptoKey | Uint8Array, options: SignOptions, claims: JWTPayload = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg, ...(options.kid === undefined ? {} : { kid: options.kid }) }).setIssuedAt();
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  if (options.subject !== undefined) jwt.setSubject(options.subject);
  jwt.setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 3600);
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(key);
}

/** A token with `alg: none` and no signature, as an attacker writes it. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

/** A JWKS served over http on 127.0.0.1, port 0: the keys can change, requests are counted, it can go down. */
export interface JwksServer {
  readonly url: string;
  /** Requests served so far. */
  readonly hits: number;
  /** Serves these keys from now on. */
  setKeys(keys: readonly JWK[]): void;
  /** Answers 503 from now on (true) or the keys again (false). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function serveJwks(keys: readonly JWK[]): Promise<JwksServer> {
  let current = [...keys];
  let hits = 0;
  let down = false;
  const server: Server = createServer((_req, res) => {
    hits++;
    if (down) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: current }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get hits() {
      return hits;
    },
    setKeys: (next) => void (current = [...next]),
    setDown: (next) => void (down = next),
    async close() {
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
