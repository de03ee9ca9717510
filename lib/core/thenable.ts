/**
 * Whether `value` is a promise or promise-like (has a `then` method): what `await` would wait
 * for. Lets a hot path that is usually synchronous (an in-memory store, a sync handler) skip
 * the promise and the microtask an `await` of a plain value costs, and still accept a promise.
 *
 * @example
 *   const value = store.get(key);
 *   return isThenable(value) ? value.then(render) : render(value);
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
}
