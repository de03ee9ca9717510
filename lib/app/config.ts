import { parseArgs } from "node:util";
import { LOG_LEVELS, type LogLevel } from "../logging/log-levels.js";

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
  /** Print the middleware chain of every method and exit, without reading stdin. */
  readonly describe?: boolean;
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
function redisUrl(raw: string, where: string): string | undefined {
  const v = raw.trim();
  if (v === "") return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new ConfigError(`${where} must be a URL like redis://host:6379, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new ConfigError(`${where} must start with redis:// or rediss://, got ${JSON.stringify(raw)}`);
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
  { key: "describe", flag: "describe", boolean: true, default: "0", parse: boolean, help: "print the middleware chain of each method and exit" },
];

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
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  if (values["help"] === true) return { help: true };
  const config: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const flag = values[o.flag];
    const fromEnv = o.env === undefined ? undefined : env[o.env];
    if (flag !== undefined) config[o.key] = o.parse(String(flag === true ? "1" : flag), `--${o.flag}`);
    else if (fromEnv !== undefined && o.env !== undefined) config[o.key] = o.parse(fromEnv, o.env);
    else config[o.key] = o.parse(o.default, `the default of --${o.flag}`);
  }
  checkRedis(config as unknown as NodeConfig);
  return { help: false, config: config as unknown as NodeConfig };
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

/** The text of `bin/node --help`. */
export function helpText(): string {
  const rows = OPTIONS.map((o) => `  --${o.flag}${o.boolean ? "" : " VALUE"}`.padEnd(36) + `${(o.env ?? "").padEnd(27)}${o.help} (default: ${o.default === "" ? "none" : o.default})`);
  return [
    "Usage: bin/node [options] < messages.jsonl",
    "",
    "A Maelstrom-style node: one JSON message per line on stdin, one reply per line on stdout;",
    "each grpc_call runs through logging -> auth -> rate_limit into the KeyValue service.",
    "Logs are JSON lines on stderr. A flag wins over its environment variable.",
    "",
    "  flag".padEnd(36) + "environment".padEnd(27) + "meaning",
    ...rows,
    "  -h, --help".padEnd(63) + "print this text",
    "",
  ].join("\n");
}
