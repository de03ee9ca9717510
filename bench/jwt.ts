import { performance } from "node:perf_hooks";
import { generateKeyPair, exportSPKI, SignJWT } from "jose";
import { Application } from "../lib/core/application.js";
import { CallContext } from "../lib/core/context.js";
import { auth, type AuthOptions } from "../middleware/auth.js";

/**
 * The JWT section of `npm run bench` (alone: `npm run bench -- --jwt`): what auth costs per call
 * with a static token and with JWTs, through an Application of auth and an empty handler, calls
 * one after another. "cached" is a token seen before (the verifier's cache by token text: a Map
 * lookup); "every call verified" turns the cache off, to show jose's own cost per signature.
 */
export interface JwtRow {
  readonly label: string;
  readonly usPerCall: number;
  /** The goal for this row, µs per call, when it has one. */
  readonly goalUs?: number;
}

const SECRET = "a-bench-secret-of-at-least-32-bytes!";

async function measure(options: AuthOptions, token: string, calls: number, rounds: number): Promise<number> {
  const app = new Application({ onError: () => {} }).use(auth(options)).handle(() => {});
  const metadata = { authorization: `Bearer ${token}` };
  const once = async (): Promise<void> => {
    const ctx = new CallContext({ service: "KeyValue", method: "Get", request: {}, metadata, peer: "c1" });
    await app.run(ctx);
    if (ctx.status !== "OK") throw new Error(`bench: auth refused the token (${ctx.status})`);
  };
  for (let i = 0; i < Math.min(calls, 2000); i++) await once(); // warm up (and fill the cache)
  const perCall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) await once();
    perCall.push(((performance.now() - start) * 1000) / calls);
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)] as number;
}

/** Runs the section: `calls` per round (fewer for the uncached rows, which cost far more), median of `rounds`. */
export async function jwtBench(calls: number, rounds: number): Promise<JwtRow[]> {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const hsToken = await new SignJWT({ scope: "kv:read" }).setProtectedHeader({ alg: "HS256" }).setSubject("bench").setExpirationTime(exp).sign(new TextEncoder().encode(SECRET));
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const rsToken = await new SignJWT({ scope: "kv:read" }).setProtectedHeader({ alg: "RS256" }).setSubject("bench").setExpirationTime(exp).sign(rsa.privateKey);
  const rsPem = await exportSPKI(rsa.publicKey);
  const few = Math.max(200, Math.floor(calls / 50));
  return [
    { label: "static token", usPerCall: await measure({ tokens: ["s3cret-static-token"] }, "s3cret-static-token", calls, rounds) },
    { label: "JWT HS256, cached", usPerCall: await measure({ jwt: { secret: SECRET } }, hsToken, calls, rounds), goalUs: 5 },
    { label: "JWT RS256, cached", usPerCall: await measure({ jwt: { publicKey: rsPem } }, rsToken, calls, rounds), goalUs: 40 },
    { label: "JWT HS256, every call verified", usPerCall: await measure({ jwt: { secret: SECRET, maxCachedTokens: 0 } }, hsToken, few, rounds) },
    { label: "JWT RS256, every call verified", usPerCall: await measure({ jwt: { publicKey: rsPem, maxCachedTokens: 0 } }, rsToken, few, rounds) },
  ];
}

/** The section as a markdown table. */
export function jwtMarkdown(rows: readonly JwtRow[], calls: number, rounds: number): string {
  const lines = [
    "## JWT verification per call",
    "",
    `auth() through an Application with an empty handler, one call after another; median of ${rounds} rounds of ${calls.toLocaleString("en-US")} calls (the every-call-verified rows: fewer).`,
    "",
    "| auth with | µs per call | goal | met |",
    "|---|---:|---:|---|",
    ...rows.map((row) => `| ${row.label} | ${row.usPerCall.toFixed(2)} | ${row.goalUs === undefined ? "" : `< ${row.goalUs}`} | ${row.goalUs === undefined ? "" : row.usPerCall < row.goalUs ? "yes" : "no"} |`),
    "",
  ];
  return lines.join("\n");
}
