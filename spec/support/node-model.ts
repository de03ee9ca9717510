/**
 * What bin/node must answer, computed from docs/protocol.md and the README, not from lib/: the oracle
 * of the fuzz spec. It reads each input line as the node does (UTF-8, invalid bytes as U+FFFD,
 * JSON.parse) and returns the reply the node owes it, if any, with the stats it must count.
 *
 * Deterministic only with a rate limiter that never refills (RATE_LIMIT_REFILL_PER_SEC=0):
 * each client then has exactly `capacity` calls that pass it.
 */

export interface ModelReply {
  readonly src: string;
  readonly dest: string;
  readonly body: Record<string, unknown>;
}

export interface ModelOptions {
  readonly tokens: readonly string[];
  readonly capacity: number;
  readonly maxMetadataEntries: number;
  readonly maxMetadataValueBytes: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
const asString = (v: unknown): string => (typeof v === "string" ? v : "");
const APPLIED = ["logging", "auth", "rate_limit"];
const BEARER = /^bearer +(\S+)$/i;
const bytes = (s: string): number => Buffer.byteLength(s, "utf8");

/** The metadata value under `name`, matched case-insensitively (README: Metadata). */
function metadataValue(raw: unknown, name: string): string | undefined {
  if (!isObject(raw)) return undefined;
  if (Object.hasOwn(raw, name) && typeof raw[name] === "string") return raw[name];
  let found: string | undefined;
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if (typeof value !== "string" || key.toLowerCase() !== name) continue;
    if (key === name) return value; // the key already in lower case wins
    found ??= value; // otherwise the first one
  }
  return found;
}

export class NodeModel {
  readonly stats = { total_requests: 0, auth_failures: 0, rate_limited: 0 };
  readonly #options: ModelOptions;
  readonly #store = new Map<string, string>();
  readonly #buckets = new Map<string, number>();
  #nodeId: string | undefined;
  #msgId = 0;

  constructor(options: ModelOptions) {
    this.#options = options;
  }

  /** The reply owed to one input line, numbered; undefined when none is. */
  reply(line: Buffer): ModelReply | undefined {
    let msg: unknown;
    try {
      msg = JSON.parse(line.toString("utf8"));
    } catch {
      return undefined;
    }
    if (!isObject(msg) || typeof msg["src"] !== "string" || !isObject(msg["body"])) return undefined;
    const client = msg["src"];
    const body = msg["body"];
    const msgId = body["msg_id"];
    const inReplyTo = (typeof msgId === "number" && Number.isFinite(msgId)) || typeof msgId === "string" ? msgId : undefined;
    let src = this.#nodeId ?? asString(msg["dest"]);
    let out: Json;
    switch (body["type"]) {
      case "grpc_call":
        out = this.#call(client, body);
        break;
      case "grpc_interceptor_stats":
        out = { type: "grpc_interceptor_stats_ok", stats: { ...this.stats } };
        break;
      case "init": {
        const nodeId = body["node_id"];
        if (typeof nodeId === "string" && nodeId !== "") this.#nodeId = nodeId;
        src = this.#nodeId ?? src;
        out = { type: "init_ok" };
        break;
      }
      default: {
        const type = body["type"];
        const text = typeof type === "string" ? type.slice(0, 200) : type === null || typeof type !== "object" ? String(type) : Array.isArray(type) ? "(an array)" : "(an object)";
        out = { type: "error", code: 10, text: `unsupported message type: ${text}` };
      }
    }
    if (inReplyTo === undefined) return undefined;
    const { type, ...rest } = out;
    return { src, dest: client, body: { type, in_reply_to: inReplyTo, ...rest, msg_id: this.#msgId++ } };
  }

  #call(client: string, body: Json): Json {
    this.stats.total_requests++;
    // Auth first: a call without a valid token is UNAUTHENTICATED whatever its metadata.
    const header = metadataValue(body["metadata"], "authorization");
    const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
    if (token === undefined || !this.#options.tokens.includes(token)) {
      this.stats.auth_failures++;
      return { type: "grpc_call_ok", status: "UNAUTHENTICATED", interceptor_failed: "auth" };
    }
    const metadata = body["metadata"];
    if (isObject(metadata)) {
      const { maxMetadataEntries, maxMetadataValueBytes } = this.#options;
      const keys = Object.keys(metadata);
      const tooLong = (v: unknown): boolean => typeof v === "string" && bytes(v) > maxMetadataValueBytes;
      if (keys.length > maxMetadataEntries || keys.some((k) => tooLong(k) || tooLong(metadata[k]))) {
        return { type: "grpc_call_ok", status: "RESOURCE_EXHAUSTED", interceptors_applied: [] };
      }
    }
    const left = this.#buckets.get(client) ?? this.#options.capacity;
    if (left < 1) {
      this.stats.rate_limited++;
      return { type: "grpc_call_ok", status: "RESOURCE_EXHAUSTED", interceptor_failed: "rate_limit" };
    }
    this.#buckets.set(client, left - 1);
    const [status, response] = this.#handle(asString(body["service"]), asString(body["method"]), body["request"]);
    return response === undefined
      ? { type: "grpc_call_ok", status, interceptors_applied: APPLIED }
      : { type: "grpc_call_ok", status, interceptors_applied: APPLIED, response };
  }

  #handle(service: string, method: string, request: unknown): [string, Json | undefined] {
    if (service !== "KeyValue" || !["Get", "Put", "Delete"].includes(method)) return ["UNIMPLEMENTED", undefined];
    const field = (name: string, max: number): string | undefined =>
      isObject(request) && Object.hasOwn(request, name) && typeof request[name] === "string" && bytes(request[name]) <= max ? request[name] : undefined;
    const key = field("key", this.#options.maxKeyBytes);
    if (key === undefined) return ["INVALID_ARGUMENT", undefined];
    if (method === "Get") {
      const value = this.#store.get(key);
      return value === undefined ? ["NOT_FOUND", { key, found: false }] : ["OK", { key, value, found: true }];
    }
    if (method === "Delete") return ["OK", { key, deleted: this.#store.delete(key) }];
    const value = field("value", this.#options.maxValueBytes);
    if (value === undefined) return ["INVALID_ARGUMENT", undefined];
    this.#store.set(key, value);
    return ["OK", { written: true }];
  }
}
