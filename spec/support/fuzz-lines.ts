import { Prng } from "./prng.js";
import { MSG_ID_TOKENS, randomNumberTokens } from "./python-numbers.js";

/**
 * Input lines for fuzzing bin/node: valid messages mixed with mutated ones, as bytes (some are
 * not UTF-8). Built as JSON text directly, so that the mutations can put anything anywhere:
 * numbers no double holds, `__proto__` keys, arrays nested 100,000 deep.
 */

/** What kinds of line the generator makes, for the report. */
export type LineKind =
  | "call" | "call-unauthorized" | "call-no-msg-id" | "stats" | "init" | "unsupported"
  | "wrong-type" | "truncated" | "huge-number" | "numeric-msg-id" | "deep-nesting" | "bad-bytes" | "proto-keys" | "missing-field" | "oversized" | "garbage";

export interface FuzzLine {
  readonly kind: LineKind;
  readonly bytes: Buffer;
  /** For a "numeric-msg-id" line: the msg_id's token, which the reply must echo as Python prints it. */
  readonly msgIdToken?: string;
}

/** A JSON object from ordered [key, JSON text] pairs. */
type Pairs = [string, string][];
const obj = (pairs: Pairs): string => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(", ")}}`;
const str = (s: string): string => JSON.stringify(s);

const SERVICES = ["KeyValue", "KeyValue", "KeyValue", "Nope", "keyvalue", "__proto__", "constructor"];
const METHODS = ["Get", "Put", "Delete", "Get", "Put", "Scan", "toString", "__proto__", "hasOwnProperty", "constructor"];
const HUGE = ["1e400", "-1e400", "1e308", "-1e-400", "123456789012345678901234567890", "9007199254740993", "1.7976931348623157e308", "-0", "0.1e1", "1E+2", "5e-324"];
/** Number tokens for msg_id: every form Python prints differently from JavaScript, and random ones. */
const NUMERIC_MSG_IDS = [...MSG_ID_TOKENS, ...randomNumberTokens(7, 300)];
const FIELDS = ["src", "dest", "body", "type", "msg_id", "service", "method", "request", "metadata", "authorization", "key", "value", "node_id"] as const;
type Field = (typeof FIELDS)[number];

/** Generates the lines for one fuzz run; the same seed gives the same lines. */
export class FuzzLines {
  readonly #random: Prng;
  #msgId = 1;

  constructor(seed: number) {
    this.#random = new Prng(seed);
  }

  /** `count` lines, starting with an init. */
  lines(count: number): FuzzLine[] {
    const out: FuzzLine[] = [{ kind: "init", bytes: Buffer.from(this.#init("n1")) }];
    while (out.length < count) out.push(this.line());
    return out;
  }

  /** One line of a random kind. */
  line(): FuzzLine {
    const r = this.#random;
    const roll = r.next();
    const text = (kind: LineKind, s: string): FuzzLine => ({ kind, bytes: Buffer.from(s, "utf8") });
    if (roll < 0.3) return text("call", this.#call({}));
    if (roll < 0.36) return text("call-unauthorized", this.#call({ authorization: r.pick(['"Bearer wrong"', '"Basic valid_token"', '"valid_token"', '""', '"Bearer  valid_token "', "7", "null"]) }));
    if (roll < 0.39) return text("call-no-msg-id", this.#call({ msgId: null }));
    if (roll < 0.43) return text("stats", obj([["src", str(this.#client())], ["dest", str("n1")], ["body", obj([["type", str("grpc_interceptor_stats")], ["msg_id", String(this.#msgId++)]])]]));
    if (roll < 0.44) return text("init", this.#init(r.pick(["n1", "n1", "n2", ""])));
    if (roll < 0.47) return text("unsupported", obj([["src", str(this.#client())], ["dest", str("n1")], ["body", obj([["type", this.#value(2)], ["msg_id", String(this.#msgId++)]])]]));
    if (roll < 0.57) return text("wrong-type", this.#call({ [r.pick(FIELDS)]: this.#value(3) }));
    if (roll < 0.64) {
      const whole = this.#call({});
      return text("truncated", whole.slice(0, r.int(whole.length)));
    }
    if (roll < 0.69) return text("huge-number", this.#call({ [r.pick(FIELDS)]: r.pick(HUGE) }));
    if (roll < 0.6903) return text("deep-nesting", this.#call({ [r.pick(FIELDS)]: this.#deep(100_000) }));
    if (roll < 0.75) return { kind: "bad-bytes", bytes: this.#badBytes(Buffer.from(this.#call({}), "utf8")) };
    if (roll < 0.81) return text("proto-keys", this.#protoCall());
    if (roll < 0.88) return text("missing-field", this.#call({ [r.pick(FIELDS)]: undefined }));
    if (roll < 0.9) return { kind: "garbage", bytes: this.#garbage() };
    if (roll < 0.93) return text("oversized", this.#oversized());
    if (roll < 0.96) {
      const token = r.pick(NUMERIC_MSG_IDS);
      return { ...text("numeric-msg-id", this.#call({ msg_id: token })), msgIdToken: token };
    }
    return text("call", this.#call({}));
  }

  #client(): string {
    return `c${this.#random.int(300)}`;
  }

  #init(nodeId: string): string {
    return obj([["src", str("c0")], ["dest", str("n1")], ["body", obj([["type", str("init")], ["msg_id", String(this.#msgId++)], ["node_id", str(nodeId)], ["node_ids", "[]"]])]]);
  }

  /**
   * A grpc_call; `over` replaces a field's JSON text (undefined: leaves the field out; for
   * msgId, null leaves msg_id out).
   */
  #call(over: Partial<Record<Field, string | undefined>> & { msgId?: null }): string {
    const r = this.#random;
    const method = r.chance(0.85) ? r.pick(["Get", "Put", "Put", "Delete"]) : r.pick(METHODS);
    const key = str(`k${r.int(40)}`);
    const field = (name: Field, text: string): [string, string][] => (name in over ? (over[name] === undefined ? [] : [[name, over[name] as string]]) : [[name, text]]);
    const requestPairs: Pairs = [...field("key", key), ...(method === "Put" ? field("value", str(this.#text(8))) : [])];
    const metadataPairs: Pairs = [...field("authorization", str(r.chance(0.9) ? "Bearer valid_token" : "bearer valid_token")), ...(r.chance(0.2) ? [["x-request-id", str(this.#text(6))] as [string, string]] : [])];
    const bodyPairs: Pairs = [
      ...field("type", str("grpc_call")),
      ...(over.msgId === null ? [] : field("msg_id", String(this.#msgId++))),
      ...field("service", str(r.chance(0.9) ? "KeyValue" : r.pick(SERVICES))),
      ...field("method", str(method)),
      ...field("request", obj(requestPairs)),
      ...field("metadata", obj(metadataPairs)),
    ];
    return obj([...field("src", str(this.#client())), ...field("dest", str("n1")), ...field("body", obj(bodyPairs))]);
  }

  /** A call with `__proto__` and `constructor` keys at every level, some holding what would authorize it. */
  #protoCall(): string {
    const r = this.#random;
    const hostile = (): Pairs => [
      ["__proto__", r.pick(['{"authorization": "Bearer valid_token", "key": "k1", "type": "init"}', "null", "[]", '"x"'])],
      ["constructor", r.pick(['{"prototype": {"polluted": true}}', '"c"', "1"])],
    ];
    const withAuth = r.chance(0.5);
    const method = r.pick(["Get", "Put"]);
    const request: Pairs = [...hostile(), ["key", str(r.pick(["__proto__", "constructor", "k1"]))], ["value", str("v")]];
    const metadata: Pairs = [...hostile(), ...(withAuth ? ([["authorization", str("Bearer valid_token")]] as Pairs) : [])];
    const body: Pairs = [...hostile(), ["type", str("grpc_call")], ["msg_id", String(this.#msgId++)], ["service", str("KeyValue")], ["method", str(method)], ["request", obj(request)], ["metadata", obj(metadata)]];
    return obj([...hostile(), ["src", str(this.#client())], ["dest", str("n1")], ["body", obj(body)]]);
  }

  /**
   * A call over one of the limits the fuzz spec sets (8 metadata entries, 64-byte metadata keys
   * and values, 16-byte keys, 64-byte values), or just at it, in bytes of UTF-8.
   */
  #oversized(): string {
    const r = this.#random;
    const long = (n: number): string => r.pick(["x", "\u00e9", "\u65e5", "\u{1f600}"]).repeat(n);
    switch (r.int(4)) {
      case 0:
        return this.#call({ metadata: obj(Array.from({ length: 7 + r.int(4) }, (_, i): [string, string] => [i === 0 ? "authorization" : `x-${i}`, str(i === 0 ? "Bearer valid_token" : "v")])) });
      case 1:
        return this.#call({ metadata: obj([["authorization", str("Bearer valid_token")], [r.chance(0.5) ? "x-long" : long(16 + r.int(3)), str(long(16 + r.int(10)))]]) });
      case 2:
        return this.#call({ key: str(long(4 + r.int(14))) });
      default:
        return this.#call({ value: str(long(16 + r.int(10))) });
    }
  }

  /** Any JSON value as text, `depth` levels at most. */
  #value(depth: number): string {
    const r = this.#random;
    const kind = r.int(depth > 0 ? 9 : 6);
    switch (kind) {
      case 0:
        return r.pick(["null", "true", "false"]);
      case 1:
        return String(r.int(2 ** 31) - 2 ** 30);
      case 2:
        return r.pick([...HUGE, "0.5", "-3.25e-7"]);
      case 3:
      case 4:
        return JSON.stringify(this.#text(10));
      case 5:
        return r.pick(['""', '"grpc_call"', '"KeyValue"', '"Bearer valid_token"', '"__proto__"']);
      case 6:
        return `[${Array.from({ length: r.int(4) }, () => this.#value(depth - 1)).join(", ")}]`;
      default:
        return obj(Array.from({ length: r.int(4) }, (): [string, string] => [r.pick(["__proto__", "constructor", "toString", "a", "", "authorization", "0"]), this.#value(depth - 1)]));
    }
  }

  /** `depth` arrays, one in the other. */
  #deep(depth: number): string {
    return "[".repeat(depth) + "]".repeat(depth);
  }

  /** Text with characters that need escaping: controls, quotes, non-ASCII, lone surrogates. */
  #text(max: number): string {
    const r = this.#random;
    let out = "";
    for (let n = r.int(max + 1); n > 0; n--) {
      const kind = r.int(6);
      if (kind < 3) out += String.fromCharCode(0x20 + r.int(0x5f));
      else if (kind === 3) out += String.fromCharCode(r.int(0x20));
      else if (kind === 4) out += String.fromCharCode(0x80 + r.int(0xff80));
      else out += r.pick(['"', "\\", "\u2028", "\u{1f600}", "\ud800", "\u0000"]);
    }
    return out;
  }

  /** The line with NUL, invalid UTF-8 or stray bytes written over or put between its bytes; never a newline. */
  #badBytes(line: Buffer): Buffer {
    const r = this.#random;
    const bad = [[0x00], [0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0x0d], [0x80], [0xe2, 0x82]];
    const parts: Buffer[] = [];
    let from = 0;
    for (let n = 1 + r.int(3); n > 0; n--) {
      const at = from + r.int(Math.max(1, line.length - from));
      parts.push(line.subarray(from, at), Buffer.from(r.pick(bad)));
      from = r.chance(0.5) ? Math.min(line.length, at + 1) : at; // overwrite a byte, or insert
    }
    parts.push(line.subarray(from));
    return Buffer.concat(parts);
  }

  #garbage(): Buffer {
    const r = this.#random;
    const pick = r.int(6);
    if (pick === 0) return Buffer.alloc(0);
    if (pick === 1) return Buffer.from(r.pick(["   ", "\r", "\t", "null", "[]", "42", '"str"', "{}", '{"src": "c1"}', '{"src": "c1", "body": null}']));
    return Buffer.from(Array.from({ length: r.int(200) }, () => {
      const b = r.int(256);
      return b === 0x0a ? 0x20 : b;
    }));
  }
}
