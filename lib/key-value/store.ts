/** One key and its value, as Scan streams them. */
export interface Entry {
  readonly key: string;
  readonly value: string;
}

/** One change to a key, as Watch streams them: a Put (`deleted` false) or a Delete that removed a value. */
export interface Change {
  readonly key: string;
  /** The new value; "" when `deleted`. */
  readonly value: string;
  readonly deleted: boolean;
}

/**
 * Where the KeyValue service keeps its data. `get`, `set` and `delete` may answer synchronously
 * or with a promise. `scan` and `watch` serve the streaming methods; a store without them
 * answers Scan and Watch with UNIMPLEMENTED.
 */
export interface KeyValueStore {
  get(key: string): string | undefined | Promise<string | undefined>;
  set(key: string, value: string): void | Promise<void>;
  /** Resolves to whether the key was there. */
  delete(key: string): boolean | Promise<boolean>;
  /**
   * The entries whose key starts with `prefix`, in ascending order of the keys' UTF-8 bytes, the
   * first `limit` of them (0: all). Pulled one at a time: a reader that stops stops the scan, and
   * the store never holds more than it must to keep the order. Not a snapshot: a key written
   * during the scan may or may not appear. `signal` aborts with the call.
   */
  scan?(prefix: string, limit: number, signal: AbortSignal): AsyncIterable<Entry> | Iterable<Entry>;
  /**
   * Subscribes to the changes of keys under `prefix`; resolves once subscribed, so that every
   * change made after is seen, in the order the store applied them. The stream ends when
   * `signal` aborts (or the reader returns it); a reader that falls too far behind ends it with
   * RESOURCE_EXHAUSTED rather than make the store buffer without bound.
   */
  watch?(prefix: string, signal: AbortSignal): Promise<AsyncIterable<Change>>;
}

/**
 * Orders strings by their UTF-8 bytes (which is code point order), not by UTF-16 code units as
 * `<` does: the two differ for a supplementary character (a surrogate pair) against a character
 * from U+E000 to U+FFFF.
 *
 * @example
 *   ["\u{1F600}", "\uFFFD"].sort(compareUtf8); // ["\uFFFD", "\u{1F600}"]
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800-DFFF) stand for code points above every BMP unit: move them above E000-FFFF.
    return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}
