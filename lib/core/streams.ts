/**
 * How the pipeline moves a call's streams: pulled one message at a time (never buffered), counted,
 * stopped by the call's signal, and with errors traced to the middleware whose wrapper threw.
 */

/**
 * Wraps a stream of messages, returning the stream the next in line reads: `ctx.wrapRequest()`
 * and `ctx.wrapResponse()` take one. An async generator over `messages` is the usual form.
 *
 * @example
 *   const tagged: StreamWrapper = async function* (messages) {
 *     for await (const message of messages) yield { ...(message as object), tagged: true };
 *   };
 */
export type StreamWrapper = (messages: AsyncIterable<unknown>) => AsyncIterable<unknown>;

/** Where a streamed response goes: called once per message, in order; the next message is pulled when its promise settles. */
export type Send = (message: unknown) => Promise<void> | void;

/** Errors a middleware's stream wrapper threw itself, with that middleware's name. */
const blamed = new WeakMap<object, string>();

/** The middleware whose stream wrapper threw `thrown`, if one did (the pipeline records it there, not on the handler). */
export function blameOf(thrown: unknown): string | undefined {
  return thrown !== null && typeof thrown === "object" ? blamed.get(thrown) : undefined;
}

/**
 * `wrap(source)`, with the errors the wrapper throws itself (not those passing through it from
 * `source`) traced to `name`: a rate limit that ends a client stream is the rate limit's
 * failure even though the handler's `for await` is where it surfaces.
 */
export function wrapBlaming(source: AsyncIterable<unknown>, wrap: StreamWrapper, name: string): AsyncIterable<unknown> {
  const fromSource = new WeakSet<object>();
  async function* watched(): AsyncGenerator<unknown, void, undefined> {
    try {
      yield* source;
    } catch (error) {
      if (error !== null && typeof error === "object") fromSource.add(error);
      throw error;
    }
  }
  const wrapped = wrap(watched());
  return (async function* blaming() {
    try {
      yield* wrapped;
    } catch (error) {
      if (error !== null && typeof error === "object" && !fromSource.has(error) && !blamed.has(error)) blamed.set(error, name);
      throw error;
    }
  })();
}

/**
 * One abort listener for a whole stream, instead of one per message: `until(pending)` settles
 * as `pending` does, or rejects with the signal's reason as soon as it aborts. `release()` (in
 * `finally`) removes the listener.
 */
class AbortGate {
  readonly #signal: AbortSignal;
  #reject: ((reason: unknown) => void) | undefined = undefined;
  readonly #onAbort = (): void => this.#reject?.(this.#signal.reason);

  constructor(signal: AbortSignal) {
    this.#signal = signal;
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  until<T>(pending: Promise<T>): Promise<T> {
    if (this.#signal.aborted) return Promise.reject(this.#signal.reason);
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      pending.then(
        (value) => {
          this.#reject = undefined;
          resolve(value);
        },
        (error: unknown) => {
          this.#reject = undefined;
          reject(error);
        },
      );
    });
  }

  release(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
  }
}

/**
 * The request stream as the pipeline hands it on: each message counted as it is pulled, and a
 * pull that waits past the call's abort rejected with the abort's reason (CANCELLED,
 * DEADLINE_EXCEEDED, UNAVAILABLE). Breaking out of it returns the source.
 */
export async function* receiving(source: AsyncIterable<unknown>, signal: AbortSignal, counted: () => void): AsyncGenerator<unknown, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  const gate = new AbortGate(signal);
  let finished = false;
  try {
    for (;;) {
      const step = await gate.until(iterator.next());
      if (step.done === true) {
        finished = true;
        return;
      }
      counted();
      yield step.value;
    }
  } finally {
    gate.release();
    if (!finished) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}

/**
 * Pulls `stream` to its end, handing each message to `send` and pulling the next only once
 * `send`'s promise has settled: at most one message is in flight, whatever the speeds. When the
 * signal aborts it stops pulling, returns the stream (an async generator's `finally` runs) and
 * rejects with the abort's reason; an error the stream throws rejects with that error.
 */
export async function pump(stream: AsyncIterable<unknown>, send: Send, signal: AbortSignal, counted: () => void): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]();
  const gate = new AbortGate(signal);
  // Whether the stream has ended by itself (its last message, or an error it threw): only
  // then is there no need to return() it.
  let ended = false;
  try {
    for (;;) {
      let step: IteratorResult<unknown>;
      try {
        step = await gate.until(iterator.next());
      } catch (error) {
        ended = !signal.aborted;
        throw error;
      }
      if (step.done === true) {
        ended = true;
        return;
      }
      counted();
      const sent = send(step.value);
      if (sent !== undefined) await gate.until(Promise.resolve(sent));
    }
  } finally {
    gate.release();
    // A generator that is mid-step finishes that step first: the handler sees the abort then.
    if (!ended) await Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
