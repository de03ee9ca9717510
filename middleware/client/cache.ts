import type { Next } from "../../lib/core/middleware.js";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import { type Clock, systemClock } from "../../lib/client/clock.js";
import type { ClientMiddleware } from "../../lib/client/middleware.js";
import { Status } from "../../lib/core/status.js";

/** What cache adds to `ctx.state`. */
export interface CacheState {
  /** Whether the call was answered from the cache. */
  cacheHit: boolean;
}

/** Options of {@link cache}. */
export interface CacheOptions {
  /** How long an answer is served from memory, in ms. Required. */
  readonly ttlMs: number;
  /** Most answers kept; the least recently used goes first. Default 1000. */
  readonly maxEntries?: number;
  /** Methods whose OK answers are cached. Default `["KeyValue/Get"]`. */
  readonly reads?: Iterable<string>;
  /** Methods that change a key: each drops what is cached for it. Default `["KeyValue/Put", "KeyValue/Delete"]`. */
  readonly writes?: Iterable<string>;
  /** The key a request reads or writes; undefined means "do not cache". Default `request.key` when a string. */
  readonly keyOf?: (request: unknown) => string | undefined;
  /** Default the system clock. */
  readonly clock?: Clock;
}

interface Entry {
  readonly expiresAt: number;
  readonly response: unknown;
}

/** A read in flight; a write of its key marks it stale, so its (maybe older) answer is not stored. */
interface Read {
  stale: boolean;
}

const requestKey = (request: unknown): string | undefined => {
  const key = request !== null && typeof request === "object" ? (request as Record<string, unknown>)["key"] : undefined;
  return typeof key === "string" ? key : undefined;
};

function positive(value: unknown, name: string): number {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) throw new TypeError(`cache(): ${name} must be a finite number > 0`);
  return value;
}

/**
 * Answers repeated reads (KeyValue/Get) from memory for `ttlMs`. A write through the same
 * client (Put, Delete) of a key drops what is cached for it, both when it is sent and when it
 * is answered, and a read that overlapped a write of its key is not stored: this client never
 * reads its own writes stale. Writes by other clients are seen once the entry expires.
 *
 * Only OK answers are kept; entries are deep copies, so callers may change what they get. The
 * cache is per client, and so per set of credentials: share a client only between callers
 * entitled to the same answers.
 *
 * Order matters: before `logging()`, hits are not logged (logging sees the network); after it,
 * every call is (logging sees the application).
 *
 * @example
 *   client.use(cache({ ttlMs: 5000 })).use(logging());
 */
export function cache(options: CacheOptions): ClientMiddleware<object, CacheState> {
  const ttlMs = positive(options?.ttlMs, "ttlMs");
  const maxEntries = options.maxEntries === undefined ? 1000 : positive(options.maxEntries, "maxEntries");
  const reads = new Set(options.reads ?? ["KeyValue/Get"]);
  const writes = new Set(options.writes ?? ["KeyValue/Put", "KeyValue/Delete"]);
  const keyOf = options.keyOf ?? requestKey;
  const clock = options.clock ?? systemClock;
  if (typeof keyOf !== "function") throw new TypeError("cache(): keyOf must be a function");
  const entries = new Map<string, Entry>();
  const readsInFlight = new Map<string, Set<Read>>();

  const invalidate = (key: string): void => {
    for (const path of reads) entries.delete(`${path} ${key}`);
    for (const read of readsInFlight.get(key) ?? []) read.stale = true;
  };

  return async function cache(ctx: ClientCallContext<Partial<CacheState>>, next: Next): Promise<void> {
    ctx.state.cacheHit = false;
    const isRead = reads.has(ctx.path);
    const key = isRead || writes.has(ctx.path) ? keyOf(ctx.request) : undefined;
    if (key === undefined) return next();
    if (!isRead) {
      invalidate(key);
      await next();
      return invalidate(key);
    }

    const id = `${ctx.path} ${key}`;
    const entry = entries.get(id);
    if (entry !== undefined && entry.expiresAt > clock.now()) {
      entries.delete(id); // re-inserted: a Map iterates oldest first, which makes this an LRU
      entries.set(id, entry);
      ctx.state.cacheHit = true;
      ctx.respond({ status: Status.OK, response: structuredClone(entry.response) });
      return;
    }
    if (entry !== undefined) entries.delete(id);

    const read: Read = { stale: false };
    let inFlight = readsInFlight.get(key);
    if (inFlight === undefined) readsInFlight.set(key, (inFlight = new Set()));
    inFlight.add(read);
    try {
      await next();
    } finally {
      inFlight.delete(read);
      if (inFlight.size === 0) readsInFlight.delete(key);
    }
    if (ctx.status !== Status.OK || read.stale) return;
    entries.set(id, { expiresAt: clock.now() + ttlMs, response: structuredClone(ctx.response) });
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  };
}
