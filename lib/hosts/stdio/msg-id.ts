import { floatRepr, RawJson } from "./python-json.js";

/**
 * The `in_reply_to` a reply echoes for a message's `msg_id`, printed as Python's json.dumps
 * prints the value json.loads read (docs/protocol.md: output bytes are Python's). JSON.parse
 * keeps neither what Python keeps nor the token: Python reads `1.0` as a float and prints
 * `1.0`, reads `9007199254740993` as an exact int, `-0` as the int 0, `1e16` as a float it
 * prints `1e+16`; JavaScript has the double 1, 9007199254740992, -0, 1e16 for all of them. So
 * the token is found in the line and printed by Python's rules.
 *
 * Returns the number itself when JavaScript prints it as Python would (the integer tokens of
 * every usual msg_id, checked with two indexOf), a {@link RawJson} with Python's text otherwise,
 * the string for a string msg_id, and undefined for a msg_id no reply can carry: null, a
 * boolean, an object, an array, or a number too large for a double (`1e400`; Python's
 * `Infinity` is not JSON that a runner reads back).
 */
export function replyIdOf(msgId: unknown, line: string | undefined): number | string | RawJson | undefined {
  if (typeof msgId === "string") return msgId;
  if (typeof msgId !== "number" || !Number.isFinite(msgId)) return undefined;
  if (line === undefined) return msgId;
  if (Number.isSafeInteger(msgId) && !Object.is(msgId, -0) && everyMsgIdTokenIs(line, msgId)) return msgId;
  const token = bodyMsgIdToken(line);
  return token === undefined ? msgId : new RawJson(pythonNumberText(token));
}

/**
 * Python's text for a JSON number token: an integer token is an int, printed exactly (`-0` is
 * 0); one with a fraction or an exponent is a float, printed as its repr.
 */
export function pythonNumberText(token: string): string {
  if (!/[.eE]/.test(token)) return BigInt(token).toString();
  const value = Number(token);
  return Object.is(value, -0) ? "-0.0" : floatRepr(value);
}

/** The key without its opening quote: searched by its first letter, rarer in a line than a quote. */
const KEY = 'msg_id"';

/**
 * Whether every `"msg_id"` key in `line` has the integer token of `value`, for a line without
 * a backslash: there every quote delimits a string and no key is spelled with escapes, so the
 * key of the body's msg_id is among those found, and when all of them read `value` as an
 * integer token, so does the body's. A line with a backslash answers false (the structural
 * scan decides).
 */
function everyMsgIdTokenIs(line: string, value: number): boolean {
  if (line.includes("\\")) return false;
  let found = false;
  for (let at = line.indexOf(KEY); at !== -1; at = line.indexOf(KEY, at + KEY.length)) {
    if (line.charCodeAt(at - 1) !== 0x22 /* " */) continue; // the end of a longer key, "xmsg_id"
    let i = skipSpace(line, at + KEY.length);
    if (line.charCodeAt(i) !== 0x3a /* : */) continue; // a string value "msg_id", not a key
    i = skipSpace(line, i + 1);
    if (!isIntegerToken(line, i, value)) return false;
    found = true;
  }
  return found;
}

/**
 * The raw token of the body's `msg_id` when it is a number, read as JSON.parse reads the line
 * (the last of duplicate keys wins); undefined otherwise. Only for lines JSON.parse accepted.
 */
function bodyMsgIdToken(line: string): string | undefined {
  let token: string | undefined;
  forEachMember(line, skipSpace(line, 0), (key, valueAt) => {
    if (key !== "body") return;
    token = undefined; // a later "body" replaces an earlier one
    if (line.charCodeAt(valueAt) !== 0x7b /* { */) return;
    forEachMember(line, valueAt, (inner, at) => {
      if (inner === "msg_id") token = isNumberStart(line.charCodeAt(at)) ? line.slice(at, endOfValue(line, at)) : undefined;
    });
  });
  return token;
}

/** Calls `visit(key, valueStart)` for each member of the object starting at `at`; returns its end. */
function forEachMember(line: string, at: number, visit: (key: string, valueAt: number) => void): number {
  let i = skipSpace(line, at + 1);
  if (line.charCodeAt(i) === 0x7d /* } */) return i + 1;
  for (;;) {
    const keyEnd = endOfString(line, i);
    const raw = line.slice(i, keyEnd);
    const key = raw.includes("\\") ? (JSON.parse(raw) as string) : raw.slice(1, -1);
    const valueAt = skipSpace(line, skipSpace(line, keyEnd) + 1);
    visit(key, valueAt);
    i = skipSpace(line, endOfValue(line, valueAt));
    if (line.charCodeAt(i) === 0x7d /* } */) return i + 1;
    i = skipSpace(line, i + 1); // past the comma
  }
}

/** The end of the JSON value starting at `at`. */
function endOfValue(line: string, at: number): number {
  const c = line.charCodeAt(at);
  if (c === 0x22 /* " */) return endOfString(line, at);
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) return endOfNested(line, at);
  let i = at;
  while (i < line.length && isNumberChar(line.charCodeAt(i))) i++;
  return i; // a number, or true/false/null (letters count as number characters here)
}

/** The end of the string starting at `at` (after its closing quote). */
function endOfString(line: string, at: number): number {
  for (let i = at + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22) return i + 1;
  }
  return line.length;
}

/** The end of the object or array starting at `at`, strings inside skipped; no recursion. */
function endOfNested(line: string, at: number): number {
  let depth = 0;
  for (let i = at; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x22) i = endOfString(line, i) - 1;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if ((c === 0x7d || c === 0x5d) && --depth === 0) return i + 1;
  }
  return line.length;
}

/** Whether the token at `at` is the integer token of the safe integer `value` (no fraction, no exponent). */
function isIntegerToken(line: string, at: number, value: number): boolean {
  let i = at;
  const negative = line.charCodeAt(i) === 0x2d;
  if (negative !== value < 0) return false;
  if (negative) i++;
  let read = 0;
  const start = i;
  for (let c = line.charCodeAt(i); c >= 0x30 && c <= 0x39; c = line.charCodeAt(++i)) read = read * 10 + (c - 0x30);
  // Past 16 digits the sum may round; such a msg_id is not a safe integer's token anyway.
  return i > start && i - start <= 16 && read === Math.abs(value) && !isNumberChar(line.charCodeAt(i));
}

function skipSpace(line: string, at: number): number {
  let i = at;
  for (let c = line.charCodeAt(i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = line.charCodeAt(++i));
  return i;
}

/** Digits, sign, point, exponent; and letters, so that `true`, `null` end where a number would. */
function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

function isNumberStart(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d;
}
