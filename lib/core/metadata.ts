/**
 * Call metadata (gRPC's headers): string values under case-insensitive keys.
 *
 * Built over the object that arrived on the wire without copying it; the lower-cased index is
 * made only when a lookup misses the fast path. When two keys differ only by case, the one
 * already in lower case wins, otherwise the first one. Values that are not strings are ignored.
 *
 * @example
 *   const md = new Metadata({ Authorization: "Bearer t" });
 *   md.get("authorization"); // "Bearer t"
 */
export class Metadata {
  readonly #raw: Readonly<Record<string, unknown>>;
  #index: Map<string, string> | undefined;

  constructor(raw?: unknown) {
    this.#raw = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  }

  /** The value under `name` (matched case-insensitively), or undefined. */
  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    if (this.#index === undefined) {
      const direct = Object.hasOwn(this.#raw, lower) ? this.#raw[lower] : undefined;
      if (typeof direct === "string") return direct;
      // A key absent in every case is answered without the index: the server asks every call
      // for keys most calls lack (grpc-timeout).
      if (!this.#spelledOtherwise(lower)) return undefined;
    }
    return this.#indexed().get(lower);
  }

  /** Whether a string value is set under `name`. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Sets `name` (stored lower-cased), for middleware that adds metadata on the way out. */
  set(name: string, value: string): this {
    this.#indexed().set(name.toLowerCase(), value);
    return this;
  }

  /** Removes `name`; returns whether it was there. */
  delete(name: string): boolean {
    return this.#indexed().delete(name.toLowerCase());
  }

  /** The entries, keys lower-cased. */
  entries(): IterableIterator<[string, string]> {
    return this.#indexed().entries();
  }

  /** A plain object with lower-cased keys, e.g. to send the metadata on. */
  toObject(): Record<string, string> {
    return Object.fromEntries(this.#indexed());
  }

  /** Whether a key other than `lower` itself reads `lower` once lower-cased. */
  #spelledOtherwise(lower: string): boolean {
    for (const key in this.#raw) {
      if (key.length === lower.length && key !== lower && Object.hasOwn(this.#raw, key) && key.toLowerCase() === lower) return true;
    }
    return false;
  }

  #indexed(): Map<string, string> {
    if (this.#index !== undefined) return this.#index;
    const index = new Map<string, string>();
    for (const key of Object.keys(this.#raw)) {
      const value = this.#raw[key];
      if (typeof value !== "string") continue;
      const lower = key.toLowerCase();
      if (lower === key || !index.has(lower)) index.set(lower, value);
    }
    return (this.#index = index);
  }
}
