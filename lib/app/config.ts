import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { LOG_LEVELS, type LogLevel } from "../logging/log-levels.js";
import { ConfigFileError, type FaultRuleConfig, type RateLimitConfig, readConfigFile, readJsonFile, policyOf, type TokenPrincipalConfig } from "./config-file.js";

/** Everything bin/node can be told, after defaults: read in one place, passed down as is. */
export interface NodeConfig {
  readonly logLevel: LogLevel;
  readonly authTokens: readonly string[];
  readonly rateLimitCapacity: number;
  readonly rateLimitRefillPerSecond: number;
  readonly trustProxy: boolean;
  readonly maxLineBytes: number;
  readonly maxInFlight: number;
  /** Most metadata entries a call may carry; more is RESOURCE_EXHAUSTED. */
  readonly maxMetadataEntries: number;
  /** Longest metadata key or value, in UTF-8 bytes; longer is RESOURCE_EXHAUSTED. */
  readonly maxMetadataValueBytes: number;
  /** Longest KeyValue key, in UTF-8 bytes; longer is INVALID_ARGUMENT. */
  readonly maxKeyBytes: number;
  /** Longest KeyValue value, in UTF-8 bytes; longer is INVALID_ARGUMENT. */
  readonly maxValueBytes: number;
  /** One Redis to share rate limits (and, with kvStore "redis", the KeyValue data) through. */
  readonly redisUrl: string | undefined;
  /** Redis Cluster nodes (`host:port`) to discover a cluster from, to share them through instead. */
  readonly redisClusterNodes: readonly string[] | undefined;
  /** Prepended to every Redis key, to keep deployments sharing one Redis apart. */
  readonly redisKeyPrefix: string;
  /** How long a call waits for Redis before the in-memory insurance bucket answers it. */
  readonly redisCommandTimeoutMs: number;
  /** Where the KeyValue service keeps its data. */
  readonly kvStore: "memory" | "redis";
  /** Serve proto/keyvalue.proto over gRPC on this `host:port` instead of reading stdin. */
  readonly listen?: string | undefined;
  /** Largest gRPC message either way, in bytes; larger is RESOURCE_EXHAUSTED. */
  readonly grpcMaxMessageBytes?: number;
  /** How long gRPC calls in flight may finish after SIGTERM/SIGINT before open ones end UNAVAILABLE. */
  readonly grpcShutdownGraceMs?: number;
  /** Where to serve Prometheus `GET /metrics`; none by default. */
  readonly metricsListen?: string | undefined;
  /** Print the middleware chain of every method and exit, without reading stdin. */
  readonly describe?: boolean;
  /** The JWKS that signs accepted JWTs: a file read at start, or an https URL fetched when needed. */
  readonly jwtJwks?: { readonly file: string; readonly jwks: { readonly keys: readonly object[] } } | { readonly url: string } | undefined;
  /** The HMAC secret of accepted JWTs (HS256/384/512). Never logged. */
  readonly jwtSecret?: string | undefined;
  /** The public key of accepted JWTs, read from a PEM file at start. */
  readonly jwtPublicKey?: { readonly file: string; readonly pem: string } | undefined;
  readonly jwtIssuer?: readonly string[] | undefined;
  readonly jwtAudience?: readonly string[] | undefined;
  readonly jwtAlgorithms?: readonly string[] | undefined;
  /** Slack for a JWT's exp and nbf, seconds. */
  readonly jwtClockToleranceSeconds?: number;
  /** Allow an http:// JWKS URL on a loopback host (tests, local development). */
  readonly jwtJwksAllowHttpLoopback?: boolean;
  /** Selector pattern -> the scopes it requires; authorize() joins the chain when set. */
  readonly policy?: Readonly<Record<string, readonly string[]>> | undefined;
  /** Methods that need no token (selector patterns). */
  readonly publicMethods?: readonly string[] | undefined;
  /** Honour x-fault-* metadata: callers may inject faults into their own calls. */
  readonly faultsFromMetadata?: boolean;
  /** Add `retry_after_ms` to a rate-limited call's reply on the wire (an extension, off by default). */
  readonly wireRetryAfter?: boolean;
  /** The --config file, if one was read. */
  readonly configFile?: string | undefined;
  /** From the config file: static tokens with their principals (replacing authTokens' subjects). */
  readonly tokenPrincipals?: ReadonlyMap<string, TokenPrincipalConfig> | undefined;
  /** From the config file: stacked rate limits, replacing the one of rateLimitCapacity/-RefillPerSecond. */
  readonly rateLimits?: readonly RateLimitConfig[] | undefined;
  /** From the config file: fault rules; faults() joins the chain when set. */
  readonly faults?: readonly FaultRuleConfig[] | undefined;
  /** From the config file: more log redaction paths (pino syntax). */
  readonly redact?: readonly string[] | undefined;
}

/** A flag or environment variable that is not right; the message says which and why. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

interface OptionSpec {
  readonly key: keyof NodeConfig;
  readonly flag: string;
  /** The environment variable; none for one-shot actions such as --describe. */
  readonly env?: string;
  readonly boolean?: true;
  readonly default: string;
  readonly help: string;
  readonly parse: (raw: string, where: string) => unknown;
}

function integer(min: number) {
  return (raw: string, where: string): number => {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isInteger(n) || n < min) throw new ConfigError(`${where} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
}
function number(min: number) {
  return (raw: string, where: string): number => {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || n < min) throw new ConfigError(`${where} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
}
function boolean(raw: string, where: string): boolean {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  throw new ConfigError(`${where} must be 1/true/yes/on or 0/false/no/off, got ${JSON.stringify(raw)}`);
}
function tokens(raw: string, where: string): string[] {
  const list = raw.split(",").map((t) => t.trim()).filter((t) => t !== "");
  if (list.length === 0) throw new ConfigError(`${where} must name at least one token (comma-separated)`);
  if (list.some((t) => /\s/.test(t))) throw new ConfigError(`${where}: tokens cannot contain whitespace`);
  return list;
}
function text(raw: string): string {
  return raw;
}
/**
 * A Redis URL, checked. The errors never quote what was given, which may hold a password: a
 * URL that parses is shown through {@link redactedUrl}, one that does not parse is not shown.
 */
function redisUrl(raw: string, where: string): string | undefined {
  const v = raw.trim();
  if (v === "") return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new ConfigError(`${where} must be a URL like redis://[user:password@]host:6379[/db]; the value given does not parse (not shown: it may hold a password)`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new ConfigError(`${where} must start with redis:// or rediss://, got ${JSON.stringify(redactedUrl(v))}`);
  return v;
}
function hostPorts(raw: string, where: string): string[] | undefined {
  const list = raw.split(",").map((t) => t.trim()).filter((t) => t !== "");
  if (list.length === 0) return undefined;
  for (const seed of list) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):(\d{1,5})$/.exec(seed);
    if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) throw new ConfigError(`${where} must be host:port seeds, comma-separated; got ${JSON.stringify(seed)}`);
  }
  return list;
}
function listenAddress(raw: string, where: string): string | undefined {
  const v = raw.trim();
  if (v === "") return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):(\d{1,5})$/.exec(v);
  if (match === null || Number(match[2]) > 65535) throw new ConfigError(`${where} must be HOST:PORT (port 0 picks a free one), got ${JSON.stringify(raw)}`);
  return v;
}
function kvStore(raw: string, where: string): "memory" | "redis" {
  const v = raw.trim().toLowerCase();
  if (v !== "memory" && v !== "redis") throw new ConfigError(`${where} must be memory or redis, got ${JSON.stringify(raw)}`);
  return v;
}
function optionalText(raw: string): string | undefined {
  return raw === "" ? undefined : raw;
}
function list(raw: string): string[] | undefined {
  const items = raw.split(",").map((t) => t.trim()).filter((t) => t !== "");
  return items.length === 0 ? undefined : items;
}
/** The contents of a file named by an option; a ConfigError names the option. */
function fileText(path: string, where: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`${where}: ${JSON.stringify(path)} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}
function jwks(raw: string, where: string): NodeConfig["jwtJwks"] {
  const v = raw.trim();
  if (v === "") return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
    if (!/^https?:\/\//i.test(v)) throw new ConfigError(`${where} must be a JWKS file or an https URL, got ${JSON.stringify(raw)}`);
    return { url: v };
  }
  const document = withFileErrors(() => readJsonFile(v, where));
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new ConfigError(`${where}: ${JSON.stringify(v)} is not a JSON Web Key Set ({"keys": [...]})`);
  return { file: v, jwks: { keys } };
}
function pemFile(raw: string, where: string): NodeConfig["jwtPublicKey"] {
  const v = raw.trim();
  return v === "" ? undefined : { file: v, pem: fileText(v, where) };
}
function policyFile(raw: string, where: string): NodeConfig["policy"] {
  const v = raw.trim();
  return v === "" ? undefined : withFileErrors(() => policyOf(readJsonFile(v, where), `${where} ${JSON.stringify(v)}`));
}
/** Runs `read`, turning a config file's error into a ConfigError. */
function withFileErrors<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigFileError) throw new ConfigError(error.message);
    throw error;
  }
}
function level(raw: string, where: string): LogLevel {
  const v = raw.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new ConfigError(`${where} must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(raw)}`);
  return v as LogLevel;
}

/** The options of bin/node: flag, environment variable, default, meaning. */
export const OPTIONS: readonly OptionSpec[] = [
  { key: "logLevel", flag: "log-level", env: "LOG_LEVEL", default: "info", parse: level, help: `log level on stderr: ${LOG_LEVELS.join(", ")}` },
  { key: "authTokens", flag: "auth-tokens", env: "AUTH_TOKENS", default: "valid_token", parse: tokens, help: "accepted bearer tokens, comma-separated" },
  { key: "rateLimitCapacity", flag: "rate-limit-capacity", env: "RATE_LIMIT_CAPACITY", default: "10", parse: number(1), help: "token bucket size per client (largest burst)" },
  { key: "rateLimitRefillPerSecond", flag: "rate-limit-refill-per-sec", env: "RATE_LIMIT_REFILL_PER_SEC", default: "10", parse: number(0), help: "tokens added per client per second" },
  { key: "trustProxy", flag: "trust-proxy", env: "TRUST_PROXY", boolean: true, default: "0", parse: boolean, help: "count calls per x-forwarded-for address (only behind a proxy that sets it)" },
  { key: "maxLineBytes", flag: "max-line-bytes", env: "MAX_LINE_BYTES", default: String(4 * 1024 * 1024), parse: integer(1), help: "longer input lines are dropped unread and logged" },
  { key: "maxInFlight", flag: "max-in-flight", env: "MAX_IN_FLIGHT", default: "10000", parse: integer(1), help: "calls awaiting their reply before stdin is paused" },
  { key: "maxMetadataEntries", flag: "max-metadata-entries", env: "MAX_METADATA_ENTRIES", default: "64", parse: integer(1), help: "metadata entries a call may carry; more is RESOURCE_EXHAUSTED" },
  { key: "maxMetadataValueBytes", flag: "max-metadata-value-bytes", env: "MAX_METADATA_VALUE_BYTES", default: "8192", parse: integer(1), help: "longest metadata key or value (UTF-8 bytes); longer is RESOURCE_EXHAUSTED" },
  { key: "maxKeyBytes", flag: "max-key-bytes", env: "MAX_KEY_BYTES", default: "1024", parse: integer(1), help: "longest KeyValue key (UTF-8 bytes); longer is INVALID_ARGUMENT" },
  { key: "maxValueBytes", flag: "max-value-bytes", env: "MAX_VALUE_BYTES", default: String(1024 * 1024), parse: integer(1), help: "longest KeyValue value (UTF-8 bytes); longer is INVALID_ARGUMENT" },
  { key: "redisUrl", flag: "redis-url", env: "REDIS_URL", default: "", parse: redisUrl, help: "share rate limits through this Redis (redis://host:port/db)" },
  { key: "redisClusterNodes", flag: "redis-cluster-nodes", env: "REDIS_CLUSTER_NODES", default: "", parse: hostPorts, help: "share them through a Redis Cluster: host:port seeds, comma-separated" },
  { key: "redisKeyPrefix", flag: "redis-key-prefix", env: "REDIS_KEY_PREFIX", default: "rpci:", parse: text, help: "prefix of every Redis key; keeps deployments on one Redis apart" },
  { key: "redisCommandTimeoutMs", flag: "redis-command-timeout-ms", env: "REDIS_COMMAND_TIMEOUT_MS", default: "100", parse: integer(1), help: "ms a call waits for Redis before the in-memory insurance bucket answers" },
  { key: "kvStore", flag: "kv-store", env: "KV_STORE", default: "memory", parse: kvStore, help: "where KeyValue data lives: memory, or redis (needs a Redis setting)" },
  { key: "listen", flag: "listen", env: "LISTEN", default: "", parse: listenAddress, help: "serve gRPC (proto/keyvalue.proto) on HOST:PORT instead of stdin; port 0 picks one" },
  { key: "grpcMaxMessageBytes", flag: "grpc-max-message-bytes", env: "GRPC_MAX_MESSAGE_BYTES", default: String(4 * 1024 * 1024), parse: integer(1), help: "largest gRPC message either way; larger is RESOURCE_EXHAUSTED" },
  { key: "grpcShutdownGraceMs", flag: "grpc-shutdown-grace-ms", env: "GRPC_SHUTDOWN_GRACE_MS", default: "5000", parse: integer(0), help: "ms gRPC calls may finish after SIGTERM before open ones end UNAVAILABLE" },
  { key: "metricsListen", flag: "metrics-listen", env: "METRICS_LISTEN", default: "", parse: listenAddress, help: "serve Prometheus GET /metrics on HOST:PORT (port 0: any free port, logged)" },
  { key: "describe", flag: "describe", boolean: true, default: "0", parse: boolean, help: "print the middleware chain of each method and exit" },
  { key: "jwtJwks", flag: "jwt-jwks", env: "JWT_JWKS", default: "", parse: jwks, help: "accept JWTs signed by a key of this JWKS: a file, or an https URL (fetched, cached)" },
  { key: "jwtSecret", flag: "jwt-secret", env: "JWT_SECRET", default: "", parse: optionalText, help: "accept JWTs signed with this HMAC secret (HS256/384/512, >= 32 bytes)" },
  { key: "jwtPublicKey", flag: "jwt-public-key", env: "JWT_PUBLIC_KEY", default: "", parse: pemFile, help: "accept JWTs signed by this public key: a PEM file (RS*, PS*, ES*, EdDSA)" },
  { key: "jwtIssuer", flag: "jwt-issuer", env: "JWT_ISSUER", default: "", parse: list, help: "a JWT's iss must be this (comma-separated: one of these)" },
  { key: "jwtAudience", flag: "jwt-audience", env: "JWT_AUDIENCE", default: "", parse: list, help: "a JWT's aud must include this (comma-separated: one of these)" },
  { key: "jwtAlgorithms", flag: "jwt-algorithms", env: "JWT_ALGORITHMS", default: "", parse: list, help: "the JWT algs accepted, comma-separated; none given: all the key can sign with (alg none never)" },
  { key: "jwtClockToleranceSeconds", flag: "jwt-clock-tolerance-sec", env: "JWT_CLOCK_TOLERANCE_SEC", default: "5", parse: number(0), help: "slack for a JWT's exp and nbf against clock skew, seconds" },
  { key: "jwtJwksAllowHttpLoopback", flag: "jwt-jwks-http-loopback", env: "JWT_JWKS_HTTP_LOOPBACK", boolean: true, default: "0", parse: boolean, help: "allow an http:// JWKS URL on 127.0.0.1/::1/localhost (tests only)" },
  { key: "policy", flag: "policy", env: "POLICY", default: "", parse: policyFile, help: 'a JSON file of selector -> required scopes, {"KeyValue/Put": ["kv:write"]}; adds authorize' },
  { key: "publicMethods", flag: "public-methods", env: "PUBLIC_METHODS", default: "", parse: list, help: "methods that need no token, comma-separated (Health/Check, Health/*)" },
  { key: "faultsFromMetadata", flag: "faults-from-metadata", env: "FAULTS_FROM_METADATA", boolean: true, default: "0", parse: boolean, help: "let calls inject faults into themselves with x-fault-* metadata (tests only)" },
  { key: "wireRetryAfter", flag: "wire-retry-after", env: "WIRE_RETRY_AFTER", boolean: true, default: "0", parse: boolean, help: "add retry_after_ms to a rate-limited reply on the wire (not in the seed protocol)" },
  { key: "configFile", flag: "config", default: "", parse: optionalText, help: "a JSON file of these options by flag name, plus auth-tokens, policy, rate-limits, faults, redact" },
];

/** The JWT settings: any of them means the default static token is off. */
const JWT_KEYS = ["jwtJwks", "jwtSecret", "jwtPublicKey"] as const;

/** What {@link loadConfig} found: a configuration, or a request for help. */
export type Loaded = { readonly help: true } | { readonly help: false; readonly config: NodeConfig };

/**
 * Reads the configuration from command-line flags and the environment; a flag wins over its
 * variable, a variable over the default. Throws a ConfigError naming the bad setting.
 */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Loaded {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
    for (const o of OPTIONS) options[o.flag] = { type: o.boolean ? "boolean" : "string" };
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // parseArgs quotes a stray argument, which may be a URL with its password (a misplaced --redis-url value).
    throw new ConfigError(withoutPasswords(error instanceof Error ? error.message : String(error)));
  }
  if (values["help"] === true) return { help: true };
  const configPath = typeof values["config"] === "string" && values["config"] !== "" ? values["config"] : undefined;
  const file = configPath === undefined ? undefined : withFileErrors(() => readConfigFile(configPath, new Set(OPTIONS.filter((o) => o.flag !== "config").map((o) => o.flag))));
  const config: Record<string, unknown> = {};
  const fromDefault = new Set<string>();
  for (const o of OPTIONS) {
    const flag = values[o.flag];
    const fromEnv = o.env === undefined ? undefined : env[o.env];
    const fromFile = file?.values.get(o.flag);
    if (flag !== undefined) config[o.key] = o.parse(String(flag === true ? "1" : flag), `--${o.flag}`);
    else if (fromEnv !== undefined && o.env !== undefined) config[o.key] = o.parse(fromEnv, o.env);
    else if (fromFile !== undefined) config[o.key] = o.parse(fromFile, `${configPath}: ${o.flag}`);
    else {
      config[o.key] = o.parse(o.default, `the default of --${o.flag}`);
      fromDefault.add(o.key);
    }
  }
  const structured = file?.structured ?? {};
  if (structured.policy !== undefined && fromDefault.has("policy")) config["policy"] = structured.policy;
  if (structured.tokenPrincipals !== undefined && fromDefault.has("authTokens")) {
    config["tokenPrincipals"] = structured.tokenPrincipals;
    config["authTokens"] = [...structured.tokenPrincipals.keys()];
  } else if (fromDefault.has("authTokens") && JWT_KEYS.some((key) => config[key] !== undefined)) {
    // The default static token exists only while no other authentication is configured.
    config["authTokens"] = [];
  }
  config["rateLimits"] = structured.rateLimits;
  config["faults"] = structured.faults;
  config["redact"] = structured.redact;
  checkRedis(config as unknown as NodeConfig);
  checkJwt(config as unknown as NodeConfig);
  return { help: false, config: config as unknown as NodeConfig };
}

/** The JWT settings that only make sense together. */
function checkJwt(config: NodeConfig): void {
  const sources = JWT_KEYS.filter((key) => config[key] !== undefined);
  if (sources.length > 1) throw new ConfigError("set one of JWT_JWKS, JWT_SECRET, JWT_PUBLIC_KEY, not several");
  const dependent = (["jwtIssuer", "jwtAudience", "jwtAlgorithms"] as const).filter((key) => config[key] !== undefined);
  if (sources.length === 0 && dependent.length > 0) throw new ConfigError(`${dependent.join(", ")} need a JWT key: JWT_JWKS, JWT_SECRET or JWT_PUBLIC_KEY`);
}

/** The configuration for a log line: secrets replaced, files by name, lists by count. */
export function configForLog(config: NodeConfig): Record<string, unknown> {
  return {
    ...config,
    authTokens: `${config.authTokens.length} token(s)`,
    tokenPrincipals: config.tokenPrincipals === undefined ? undefined : `${config.tokenPrincipals.size} token(s)`,
    jwtSecret: config.jwtSecret === undefined ? undefined : "REDACTED",
    jwtJwks: config.jwtJwks === undefined ? undefined : "url" in config.jwtJwks ? redactedUrl(config.jwtJwks.url) : config.jwtJwks.file,
    jwtPublicKey: config.jwtPublicKey?.file,
    redisUrl: config.redisUrl === undefined ? undefined : redactedUrl(config.redisUrl),
  };
}

/** The Redis settings that only make sense together. */
function checkRedis(config: NodeConfig): void {
  if (config.redisUrl !== undefined && config.redisClusterNodes !== undefined) throw new ConfigError("set REDIS_URL or REDIS_CLUSTER_NODES, not both");
  if (config.kvStore === "redis" && config.redisUrl === undefined && config.redisClusterNodes === undefined) {
    throw new ConfigError("KV_STORE=redis needs REDIS_URL or REDIS_CLUSTER_NODES");
  }
}

/**
 * A Redis URL fit for a log line: the password, and any query parameter ioredis would read as a
 * credential (`?password=`, say: it takes every query parameter as an option), replaced.
 *
 * @example
 *   redactedUrl("redis://app:s3cret@cache:6379/0"); // "redis://app:REDACTED@cache:6379/0"
 */
export function redactedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(not a URL)";
  }
  if (parsed.password !== "") parsed.password = "REDACTED";
  for (const key of [...parsed.searchParams.keys()]) {
    if (/pass|secret|token|auth|user/i.test(key)) parsed.searchParams.set(key, "REDACTED");
  }
  return parsed.href;
}

/** `text` with the password of any URL in it, and any `password=`-like parameter, replaced. */
function withoutPasswords(text: string): string {
  return text.replace(/(\/\/[^\s/@:]*:)[^\s@]*@/g, "$1REDACTED@").replace(/((?:pass|secret|token|auth)\w*=)[^&\s'"]*/gi, "$1REDACTED");
}

/** The text of `bin/node --help`. */
export function helpText(): string {
  const rows = OPTIONS.map((o) => `  --${o.flag}${o.boolean ? "" : " VALUE"}`.padEnd(36) + `${(o.env ?? "").padEnd(27)}${o.help} (default: ${o.default === "" ? "none" : o.default})`);
  return [
    "Usage: bin/node [options] < messages.jsonl",
    "",
    "A Maelstrom-style node: one JSON message per line on stdin, one reply per line on stdout;",
    "each grpc_call runs through logging -> auth -> rate_limit into the KeyValue service",
    "(faults after logging when configured; authorize after auth when a policy is set).",
    "Logs are JSON lines on stderr. A flag wins over its environment variable, which wins over",
    "the --config file. AUTH_TOKENS' default valid_token exists only while no JWT key is set.",
    "",
    "  flag".padEnd(36) + "environment".padEnd(27) + "meaning",
    ...rows,
    "  -h, --help".padEnd(63) + "print this text",
    "",
  ].join("\n");
}
