import type { Readable, Writable } from "node:stream";

/** `work`, or a rejection with the signal's reason once it aborts; the listener is removed either way. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Resolves on the stream's next 'drain' (or 'close'); both listeners are removed after. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.removeListener("drain", done);
      stream.removeListener("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}

/**
 * The `send` the core's `Application.run(ctx, send)` takes for a streamed response: writes one
 * message, and when `write()` says the stream's buffer is full (its highWaterMark: 16 messages
 * for grpc-js's object streams) answers with a promise that settles on 'drain' or 'close', so
 * the core pulls the next message only then: a fast producer behind a slow reader holds at most
 * that many messages here. `beforeFirst` runs once, before the first message (response headers).
 */
export function sender(stream: Writable, beforeFirst: () => void): (message: unknown) => Promise<void> | undefined {
  let first = true;
  return (message) => {
    if (first) {
      first = false;
      beforeFirst();
    }
    return stream.write(message) ? undefined : drained(stream);
  };
}

/**
 * The messages of a client stream as an AsyncIterable, for `ctx.request`: in order, ending when
 * the client half-closes; rejecting with the signal's reason as soon as it aborts (a cancel,
 * the deadline, shutdown), even while waiting for the next message. Breaking out of it does not
 * destroy the call (a bidi call's response side goes on).
 *
 * grpc-js ends the messages of a call the client cancelled as it ends those of a half-close,
 * and reports the cancel (which aborts the signal) a few milliseconds later: a handler that
 * reads to the end and then works on sees `ctx.signal` abort; nothing it answers is sent.
 */
export async function* readAll(stream: Readable, signal: AbortSignal): AsyncGenerator<unknown, void, undefined> {
  const iterator = stream.iterator({ destroyOnReturn: false });
  for (;;) {
    const next = await untilAborted(iterator.next(), signal);
    if (next.done === true) return;
    yield next.value;
  }
}
