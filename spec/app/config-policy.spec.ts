import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, configForLog, loadConfig, type NodeConfig } from "../../lib/app/config.js";

const SECRET = "an-hs256-secret-of-at-least-32-bytes";

function config(argv: readonly string[] = [], env: Record<string, string> = {}): NodeConfig {
  const loaded = loadConfig(argv, env);
  if (loaded.help) throw new Error("asked for help");
  return loaded.config;
}

describe("loadConfig() of the policy settings", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "config-policy-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
    return path;
  };

  it("keeps the default valid_token only while no other authentication is configured", () => {
    expect(config().authTokens).to.deep.equal(["valid_token"]);
    expect(config([], { JWT_SECRET: SECRET }).authTokens).to.deep.equal([]);
    expect(config([], { JWT_SECRET: SECRET, AUTH_TOKENS: "a,b" }).authTokens).to.deep.equal(["a", "b"]);
  });

  it("reads a JWKS file, a JWKS URL, a PEM file and a policy file", () => {
    const jwks = file("jwks.json", { keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y" }] });
    expect(config([], { JWT_JWKS: jwks }).jwtJwks).to.deep.equal({ file: jwks, jwks: { keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y" }] } });
    expect(config(["--jwt-jwks", "https://id.example/jwks.json"]).jwtJwks).to.deep.equal({ url: "https://id.example/jwks.json" });
    expect(config([], { JWT_PUBLIC_KEY: file("key.pem", "-----BEGIN PUBLIC KEY-----\n") }).jwtPublicKey?.pem).to.equal("-----BEGIN PUBLIC KEY-----\n");
    expect(config([], { POLICY: file("policy.json", { "KeyValue/Put": ["kv:write"] }), JWT_SECRET: SECRET }).policy).to.deep.equal({ "KeyValue/Put": ["kv:write"] });
    expect(config([], { JWT_SECRET: SECRET, JWT_AUDIENCE: "a, b", JWT_ALGORITHMS: "HS256" })).to.deep.include({ jwtAudience: ["a", "b"], jwtAlgorithms: ["HS256"] });
  });

  it("names the setting that is wrong", () => {
    const wrong = (env: Record<string, string>, pattern: RegExp): void => {
      expect(() => config([], env)).to.throw(ConfigError, pattern);
    };
    wrong({ JWT_SECRET: SECRET, JWT_PUBLIC_KEY: file("k.pem", "x") }, /not several/);
    wrong({ JWT_ISSUER: "i" }, /need a JWT key/);
    wrong({ JWT_JWKS: join(dir, "missing.json") }, /JWT_JWKS.*cannot be read/);
    wrong({ JWT_JWKS: file("notjwks.json", { nope: 1 }) }, /not a JSON Web Key Set/);
    wrong({ JWT_JWKS: "ftp://id.example/jwks" }, /https URL/);
    wrong({ POLICY: file("bad-policy.json", { "KeyValue/Put": "kv:write" }) }, /list of strings/);
    wrong({ POLICY: file("not-json.json", "{") }, /not JSON/);
  });

  describe("--config FILE", () => {
    it("reads options by flag name, below flags and the environment", () => {
      const path = file("node.json", { "rate-limit-capacity": 20, "log-level": "debug", "public-methods": ["Health/*", "Meta/Info"], "jwt-secret": SECRET });
      const c = config(["--config", path], { LOG_LEVEL: "warn" });
      expect(c).to.deep.include({ rateLimitCapacity: 20, logLevel: "warn", publicMethods: ["Health/*", "Meta/Info"], jwtSecret: SECRET, configFile: path, authTokens: [] });
      expect(config(["--config", path, "--rate-limit-capacity", "3"]).rateLimitCapacity).to.equal(3);
    });

    it("reads the structured parts: auth-tokens with principals, an inline policy, rate-limits, faults, redact", () => {
      const path = file("structured.json", {
        "auth-tokens": { "tok-1": { subject: "ci", scopes: ["kv:read"] }, "tok-2": "ops" },
        policy: { "KeyValue/*": ["kv:read"] },
        "rate-limits": [{ name: "p", key: "principal", capacity: 5, refillPerSecond: 1 }],
        faults: [{ abort: "UNAVAILABLE", abortPercent: 1 }],
        redact: ["request.password"],
      });
      const c = config(["--config", path]);
      expect(c.authTokens).to.deep.equal(["tok-1", "tok-2"]);
      expect([...(c.tokenPrincipals ?? [])]).to.deep.equal([["tok-1", { subject: "ci", scopes: ["kv:read"] }], ["tok-2", { subject: "ops" }]]);
      expect(c).to.deep.include({ policy: { "KeyValue/*": ["kv:read"] }, redact: ["request.password"] });
      expect(c.rateLimits).to.have.length(1);
      expect(c.faults).to.have.length(1);
    });

    it("refuses an unknown key, a file that is not an object, and one that cannot be read", () => {
      expect(() => config(["--config", file("unknown.json", { "rate-limit-capacty": 1 })])).to.throw(ConfigError, /unknown key "rate-limit-capacty"/);
      expect(() => config(["--config", file("array.json", [])])).to.throw(ConfigError, /JSON object/);
      expect(() => config(["--config", join(dir, "none.json")])).to.throw(ConfigError, /cannot be read/);
    });
  });

  it("configForLog() keeps secrets out of the started line", () => {
    const text = JSON.stringify(configForLog(config([], { JWT_SECRET: SECRET, AUTH_TOKENS: "tok-abc", REDIS_URL: "redis://u:pw@h:1" })));
    for (const secret of [SECRET, "tok-abc", "pw@"]) expect(text).not.to.include(secret);
  });
});
