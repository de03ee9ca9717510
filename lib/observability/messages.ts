import type { Span } from "@opentelemetry/api";

/** Runs one step of a stream; e.g. `(step) => context.with(spanContext, step)` to keep a span active. */
export type StepRunner = <R>(step: () => Promise<R>) => Promise<R>;

/**
 * `source` as an async iterable that calls `each` with every message as it passes, in order,
 * and runs each step of `source` (each `next()`, hence each resumption of an async generator)
 * through `runStep` when given. The per-message hook of the observers: for a stream, metrics
 * count `received()`/`sent()` here and tracing adds a message event to the call's span
 * ({@link messageEvents}). A `runStep` of `context.with(spanContext, step)` is for a source
 * pulled outside the call's context (the trap of opentelemetry-js#2951, where a generator
 * resumed by its consumer runs in the consumer's context); the core pulls a call's streams
 * inside its pipeline, so the middleware need none. Breaking out of the loop returns `source`
 * as a `for await` over it would.
 *
 * @example
 *   ctx.wrapResponse((messages) => observeMessages(messages, () => meter.sent()));
 *   observeMessages(source, onMessage, (step) => context.with(spanContext, step));
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

/**
 * The `each` of {@link observeMessages} that adds one `message` event per message to `span`, as
 * the OpenTelemetry RPC semantic conventions name it: `message.type` SENT or RECEIVED and
 * `message.id` counting from 1 in each direction.
 */
export function messageEvents(span: Span, type: "SENT" | "RECEIVED"): (message: unknown, index: number) => void {
  return (_message, index) => void span.addEvent("message", { "message.type": type, "message.id": index + 1 });
}
