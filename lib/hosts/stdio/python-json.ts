/**
 * JSON text exactly as Python's `json.dumps(value)` prints it: `", "` between items, `": "`
 * after keys, every character outside printable ASCII escaped as `\uXXXX` (lower-case hex;
 * astral characters as their surrogate pair), integers without a fraction and other numbers in
 * Python's float repr (`1e-05`, `1e+16`, `0.5`). Test runners compare our lines to Python's as
 * text, so these bytes are part of the protocol.
 *
 * Limits, from what JavaScript numbers can hold: a number that is integral is printed as an
 * integer (Python keeps `1.0` a float), and integers beyond 2^53 print the exact value of the
 * double they were read into (the same digits as Python whenever that integer is a double).
 * Keys print in JavaScript's property order (integer-like keys first). Undefined values in
 * objects are left out, as JSON.stringify does. A {@link RawJson} prints its text as it is:
 * that is how a value whose Python text is known (an echoed msg_id) keeps it.
 *
 * @example
 *   dumps({ a: "é", b: [1, 2.5] }) // '{"a": "\\u00e9", "b": [1, 2.5]}'
 */
/** JSON text that {@link dumps} prints verbatim; the caller vouches that it is Python's. */
export class RawJson {
  constructor(readonly text: string) {}
}

export function dumps(value: unknown): string {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      return number(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return array(value);
      if (value instanceof RawJson) return value.text;
      return object(value as Record<string, unknown>);
    default:
      return "null";
  }
}

const SHORT_ESCAPES: Readonly<Record<number, string>> = { 0x22: '\\"', 0x5c: "\\\\", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0c: "\\f" };

/** Whether `s` needs no escaping: printable ASCII but `"` and `\` (a loop: cheaper than a regex on the short strings of a reply). */
function plain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** A JSON string literal with Python's `ensure_ascii` escaping. */
export function quote(s: string): string {
  if (plain(s)) return `"${s}"`;
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) continue;
    if (i > from) out += s.slice(from, i);
    out += SHORT_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, "0")}`;
    from = i + 1;
  }
  return `${out}${s.slice(from)}"`;
}

function number(n: number): string {
  // Beyond 2^53 String(n) gives the shortest digits that read back (56319829231543392 prints
  // as ...390), not the value; Python prints the int it read, the value whenever it fits.
  if (Number.isInteger(n)) return Math.abs(n) <= Number.MAX_SAFE_INTEGER ? String(n) : BigInt(n).toString();
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "Infinity" : "-Infinity";
  return floatRepr(n);
}

/**
 * Python's `repr(float)` of a finite double other than -0: shortest round-trip digits, exponent
 * form below 1e-4 and from 1e16, `.0` on an integral value (`1.0`, `1e+16`).
 */
export function floatRepr(n: number): string {
  const [mantissa = "", exp = "0"] = n.toExponential().split("e");
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    const sign = e < 0 ? "-" : "+";
    return `${mantissa}e${sign}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  const text = String(n); // in this range JavaScript prints plain decimals
  return text.includes(".") ? text : `${text}.0`;
}

function array(items: readonly unknown[]): string {
  if (items.length === 0) return "[]";
  let out = "[" + dumps(items[0]);
  for (let i = 1; i < items.length; i++) out += ", " + dumps(items[i]);
  return out + "]";
}

/**
 * `"key": ` for the keys seen so far: replies use a handful of keys over and over, and quoting
 * them is most of the serializer's work when not cached (measured on the workload). Bounded, so that keys from requests that
 * are echoed back cannot grow it without limit.
 */
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 4096;
const MAX_QUOTED_KEY_LENGTH = 64;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = quote(key) + ": ";
    if (key.length <= MAX_QUOTED_KEY_LENGTH && quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted);
  }
  return quoted;
}

function object(obj: Record<string, unknown>): string {
  let out = "";
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value === undefined) continue;
    out += (out === "" ? "{" : ", ") + quotedKey(key) + dumps(value);
  }
  return out === "" ? "{}" : out + "}";
}

/**
 * `dumps` for lists of strings that repeat: the text of the last list is kept and reused while
 * the lists have the same items (a reply's `interceptors_applied` is the same list call after
 * call; comparing three interned strings is cheaper than quoting them).
 *
 * @example
 *   const applied = stringListDumper();
 *   applied(["logging", "auth"]); // '["logging", "auth"]'
 */
export function stringListDumper(): (list: readonly string[]) => string {
  let last: readonly string[] = [];
  let text = "[]";
  return (list) => {
    if (list.length === last.length) {
      let i = 0;
      while (i < list.length && list[i] === last[i]) i++;
      if (i === list.length) return text;
    }
    last = list.slice();
    text = dumps(last);
    return text;
  };
}
