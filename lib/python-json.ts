/**
 * JSON text exactly as Python's `json.dumps(value)` prints it: `", "` between items, `": "`
 * after keys, every character outside printable ASCII escaped as `\uXXXX` (lower-case hex;
 * astral characters as their surrogate pair), integers without a fraction and other numbers in
 * Python's float repr (`1e-05`, `1e+16`, `0.5`). Test runners compare our lines to Python's as
 * text, so these bytes are part of the protocol.
 *
 * Limits, from what JavaScript numbers can hold: a number that is integral is printed as an
 * integer (Python keeps `1.0` a float), and integers beyond 2^53 print the exact value of the
 * double they were read into (the same digits as Python whenever that integer is a double). Keys print in JavaScript's property order (integer-like keys first). Undefined values
 * in objects are left out, as JSON.stringify does.
 *
 * @example
 *   dumps({ a: "é", b: [1, 2.5] }) // '{"a": "\\u00e9", "b": [1, 2.5]}'
 */
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
      return object(value as Record<string, unknown>);
    default:
      return "null";
  }
}

/** Strings that need no escaping: printable ASCII but `"` and `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const SHORT_ESCAPES: Readonly<Record<number, string>> = { 0x22: '\\"', 0x5c: "\\\\", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0c: "\\f" };

/** A JSON string literal with Python's `ensure_ascii` escaping. */
export function quote(s: string): string {
  if (PLAIN.test(s)) return `"${s}"`;
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

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
function floatRepr(n: number): string {
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

function object(obj: Record<string, unknown>): string {
  let out = "";
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value === undefined) continue;
    out += (out === "" ? "{" : ", ") + quote(key) + ": " + dumps(value);
  }
  return out === "" ? "{}" : out + "}";
}
