/** Runs one step of a stream; e.g. `(step) => context.with(spanContext, step)` to keep a span active. */
export type StepRunner = <R>(step: () => Promise<R>) => Promise<R>;

/**
 * `source` as an async iterable that calls `each` with every message as it passes, in order,
 * and runs each step of `source` (each `next()`, hence each resumption of an async generator)
 * through `runStep` when given. The per-message hook of the observers: for a stream, metrics
 * count `received()`/`sent()` here and tracing adds a message event to the call's span, and a
 * `runStep` of `context.with(spanContext, step)` keeps the call's span active across the
 * generator's yields (the trap of
 * opentelemetry-js#2951, where a generator resumed by its consumer runs in the consumer's
 * context). Breaking out of the loop returns `source` as a `for await` over it would.
 *
 * @example
 *   ctx.response = observeMessages(ctx.response, () => meter.sent());
 *   ctx.response = observeMessages(ctx.response, onMessage, (step) => context.with(spanContext, step));
 */
export function observeMessages<T>(source: AsyncIterable<T>, each: (message: T, index: number) => void, runStep?: StepRunner): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const inner = source[Symbol.asyncIterator]();
      const step = <R>(run: () => Promise<R>): Promise<R> => (runStep === undefined ? run() : runStep(run));
      let index = 0;
      return {
        async next(): Promise<IteratorResult<T>> {
          const result = await step(() => inner.next());
          if (result.done !== true) each(result.value, index++);
          return result;
        },
        return(value?: unknown): Promise<IteratorResult<T>> {
          return inner.return === undefined ? Promise.resolve({ done: true, value: value as T }) : step(() => (inner.return as (v?: unknown) => Promise<IteratorResult<T>>)(value));
        },
        throw(error?: unknown): Promise<IteratorResult<T>> {
          return inner.throw === undefined ? Promise.reject(error) : step(() => (inner.throw as (e?: unknown) => Promise<IteratorResult<T>>)(error));
        },
      };
    },
  };
}
