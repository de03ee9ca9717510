import { ChangeFeed } from "./change-feed.js";
import { type Change, compareUtf8, type Entry, type KeyValueStore } from "./store.js";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Changes one watcher may have waiting before its Watch ends RESOURCE_EXHAUSTED. Default 1024. */
  readonly maxPendingChanges?: number;
}

/** A watcher: its prefix and its feed. */
interface Watcher {
  readonly prefix: string;
  readonly feed: ChangeFeed;
}

/**
 * The default store: a Map in this process. Watchers see the changes made through this store
 * only (one process); a fleet shares changes through a Redis store.
 */
export class MemoryStore implements KeyValueStore {
  readonly #data = new Map<string, string>();
  readonly #watchers = new Set<Watcher>();
  readonly #maxPendingChanges: number | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.maxPendingChanges;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new RangeError(`MemoryStore: maxPendingChanges must be an integer >= 1, got ${max}`);
    this.#maxPendingChanges = max;
  }

  get(key: string): string | undefined {
    return this.#data.get(key);
  }

  set(key: string, value: string): void {
    this.#data.set(key, value);
    if (this.#watchers.size !== 0) this.#publish({ key, value, deleted: false });
  }

  delete(key: string): boolean {
    const had = this.#data.delete(key);
    if (had && this.#watchers.size !== 0) this.#publish({ key, value: "", deleted: true });
    return had;
  }

  /** How many keys are stored. */
  get size(): number {
    return this.#data.size;
  }

  /**
   * The keys under `prefix` are picked and sorted when the scan starts (the order needs them
   * all); each value is read when its entry is pulled, and a key deleted meanwhile is skipped.
   */
  *scan(prefix: string, limit: number, signal: AbortSignal): Iterable<Entry> {
    const keys: string[] = [];
    for (const key of this.#data.keys()) if (key.startsWith(prefix)) keys.push(key);
    keys.sort(compareUtf8);
    let sent = 0;
    for (const key of keys) {
      if (signal.aborted || (limit !== 0 && sent === limit)) return;
      const value = this.#data.get(key);
      if (value === undefined) continue;
      sent++;
      yield { key, value };
    }
  }

  watch(prefix: string, signal: AbortSignal): Promise<AsyncIterable<Change>> {
    const watcher: Watcher = { prefix, feed: new ChangeFeed(signal, () => this.#watchers.delete(watcher), this.#maxPendingChanges) };
    if (!signal.aborted) this.#watchers.add(watcher);
    return Promise.resolve(watcher.feed);
  }

  #publish(change: Change): void {
    for (const watcher of this.#watchers) if (change.key.startsWith(watcher.prefix)) watcher.feed.publish(change);
  }
}
