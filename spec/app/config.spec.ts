import { expect } from "chai";
import { ConfigError, helpText, loadConfig, type NodeConfig, OPTIONS, redactedUrl } from "../../lib/app/config.js";

/** The configuration for `argv` and `env`; fails the spec when loadConfig asks for help. */
function config(argv: readonly string[] = [], env: Record<string, string> = {}): NodeConfig {
  const loaded = loadConfig(argv, env);
  if (loaded.help) throw new Error("unexpected --help");
  return loaded.config;
}

/** The ConfigError loadConfig throws for `argv` and `env`. */
function configError(argv: readonly string[], env: Record<string, string> = {}): ConfigError {
  try {
    loadConfig(argv, env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify({ argv, env })}`);
}

/** The defaults of the settings these specs do not set (Redis, gRPC, metrics, --describe, policy). */
const OTHER_DEFAULTS = {
  listen: undefined,
  grpcMaxMessageBytes: 4 * 1024 * 1024,
  grpcShutdownGraceMs: 5000,
  redisUrl: undefined,
  redisClusterNodes: undefined,
  redisKeyPrefix: "rpci:",
  redisCommandTimeoutMs: 100,
  kvStore: "memory",
  metricsListen: undefined,
  describe: false,
  jwtJwks: undefined,
  jwtSecret: undefined,
  jwtPublicKey: undefined,
  jwtIssuer: undefined,
  jwtAudience: undefined,
  jwtAlgorithms: undefined,
  jwtClockToleranceSeconds: 5,
  jwtJwksAllowHttpLoopback: false,
  policy: undefined,
  publicMethods: undefined,
  faultsFromMetadata: false,
  wireRetryAfter: false,
  configFile: undefined,
  rateLimits: undefined,
  faults: undefined,
  redact: undefined,
} as const;

describe("loadConfig()", () => {
  it("has the defaults docs/protocol.md requires", () => {
    expect(config()).to.deep.equal({
      logLevel: "info",
      authTokens: ["valid_token"],
      rateLimitCapacity: 10,
      rateLimitRefillPerSecond: 10,
      trustProxy: false,
      maxLineBytes: 4 * 1024 * 1024,
      maxInFlight: 10000,
      maxMetadataEntries: 64,
      maxMetadataValueBytes: 8192,
      maxKeyBytes: 1024,
      maxValueBytes: 1024 * 1024,
      ...OTHER_DEFAULTS,
    });
  });

  it("reads every setting from its environment variable", () => {
    const env = {
      LOG_LEVEL: "DEBUG",
      AUTH_TOKENS: " a , b,,c ",
      RATE_LIMIT_CAPACITY: "25",
      RATE_LIMIT_REFILL_PER_SEC: "2.5",
      TRUST_PROXY: "yes",
      MAX_LINE_BYTES: "1024",
      MAX_IN_FLIGHT: "64",
      MAX_METADATA_ENTRIES: "8",
      MAX_METADATA_VALUE_BYTES: "100",
      MAX_KEY_BYTES: "16",
      MAX_VALUE_BYTES: "32",
    };
    expect(config([], env)).to.deep.equal({
      logLevel: "debug",
      authTokens: ["a", "b", "c"],
      rateLimitCapacity: 25,
      rateLimitRefillPerSecond: 2.5,
      trustProxy: true,
      maxLineBytes: 1024,
      maxInFlight: 64,
      maxMetadataEntries: 8,
      maxMetadataValueBytes: 100,
      maxKeyBytes: 16,
      maxValueBytes: 32,
      ...OTHER_DEFAULTS,
    });
  });

  it("lets a flag win over its environment variable", () => {
    const env = { RATE_LIMIT_CAPACITY: "5", LOG_LEVEL: "error", AUTH_TOKENS: "from-env" };
    const c = config(["--rate-limit-capacity", "7", "--log-level=warn", "--auth-tokens", "from-flag"], env);
    expect(c.rateLimitCapacity).to.equal(7);
    expect(c.logLevel).to.equal("warn");
    expect(c.authTokens).to.deep.equal(["from-flag"]);
  });

  it("turns trust-proxy on with the bare flag", () => {
    expect(config(["--trust-proxy"]).trustProxy).to.equal(true);
    expect(config([], { TRUST_PROXY: "0" }).trustProxy).to.equal(false);
  });

  const bad: readonly (readonly [string, readonly string[], Record<string, string>, RegExp])[] = [
    ["a capacity that is not a number", [], { RATE_LIMIT_CAPACITY: "abc" }, /RATE_LIMIT_CAPACITY must be a number >= 1, got "abc"/],
    ["a capacity below 1 given as a flag", ["--rate-limit-capacity", "0"], {}, /--rate-limit-capacity must be a number >= 1/],
    ["a negative refill", [], { RATE_LIMIT_REFILL_PER_SEC: "-1" }, /RATE_LIMIT_REFILL_PER_SEC/],
    ["an empty number", [], { MAX_LINE_BYTES: "" }, /MAX_LINE_BYTES must be an integer >= 1/],
    ["a fractional line limit", ["--max-line-bytes", "1.5"], {}, /--max-line-bytes must be an integer/],
    ["a zero in-flight limit", [], { MAX_IN_FLIGHT: "0" }, /MAX_IN_FLIGHT/],
    ["an unknown log level", [], { LOG_LEVEL: "loud" }, /LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "loud"/],
    ["a token list with no token", [], { AUTH_TOKENS: " , " }, /AUTH_TOKENS must name at least one token/],
    ["a token with whitespace", ["--auth-tokens", "a b"], {}, /--auth-tokens: tokens cannot contain whitespace/],
    ["a trust-proxy value that is not a boolean", [], { TRUST_PROXY: "maybe" }, /TRUST_PROXY must be 1\/true\/yes\/on or 0\/false\/no\/off/],
    ["an unknown flag", ["--bogus"], {}, /bogus/],
    ["a positional argument", ["extra"], {}, /extra/],
    ["a flag without its value", ["--log-level"], {}, /log-level/],
  ];
  for (const [what, argv, env, message] of bad) {
    it(`throws a ConfigError naming the setting for ${what}`, () => {
      expect(configError(argv, env).message).to.match(message);
    });
  }

  it("answers --help and -h with a request for help, whatever else is set", () => {
    expect(loadConfig(["--help"], {})).to.deep.equal({ help: true });
    expect(loadConfig(["-h"], { RATE_LIMIT_CAPACITY: "abc" })).to.deep.equal({ help: true });
  });
});

describe("helpText()", () => {
  it("lists every flag, every environment variable and every default", () => {
    const text = helpText();
    for (const option of OPTIONS) {
      expect(text).to.include(`--${option.flag}`);
      if (option.env !== undefined) expect(text).to.include(option.env);
      expect(text).to.include(`(default: ${option.default === "" ? "none" : option.default})`);
    }
    expect(text).to.include("--help");
  });
});

describe("redactedUrl()", () => {
  it("replaces the password, keeps what says where Redis is", () => {
    expect(redactedUrl("redis://app:s3cret@cache:6379/2")).to.equal("redis://app:REDACTED@cache:6379/2");
    expect(redactedUrl("rediss://:s3cret@cache:6380")).to.equal("rediss://:REDACTED@cache:6380");
    expect(redactedUrl("redis://cache:6379")).to.equal("redis://cache:6379");
  });

  it("replaces a query parameter ioredis would take as a credential (the old pattern printed it)", () => {
    const url = redactedUrl("redis://cache:6379/0?password=s3cret&username=app&family=6");
    expect(url).not.to.include("s3cret");
    expect(url).to.equal("redis://cache:6379/0?password=REDACTED&username=REDACTED&family=6");
  });

  it("hides a password with an @ or a / in it, percent-encoded or not", () => {
    for (const url of ["redis://app:p%40ss%2Fw0rd@cache:6379", "redis://app:p@ss@cache:6379"]) {
      expect(redactedUrl(url)).not.to.match(/p(%40|@)ss/);
    }
  });
});
