import type { CallContext } from "./context.js";
import type { CallFrame } from "./frame.js";
import { Status } from "./status.js";
import { StatusError } from "./status-error.js";

/**
 * What the {@link Application}'s layers do when a middleware misuses `next()`. The
 * normal path costs a counter: each layer adds one to the call frame's `open` when entered and takes it back
 * when it returns, so a middleware that returns while the count is above its own has left layers
 * running under it: it called `next()` without awaiting it.
 *
 * - **Returned before its downstream** (`next()` not awaited, or not returned): the call fails
 *   with INTERNAL, blamed on that middleware, reported once to the application's onError. Its
 *   layer then waits for the layers under it to return before it returns in turn, so the reply
 *   is built only when nothing can touch the context any more; the INTERNAL is set after them,
 *   over whatever they did. A rejection of the abandoned downstream is absorbed there (nobody
 *   holds that promise), never left unhandled. A downstream that never settles holds the reply,
 *   as it would had next() been awaited.
 * - **next() after its middleware returned** (from a timer, say): the call has ended; the late
 *   layers are not run, the misuse is reported once, and the late next() resolves.
 * - **next() twice**: koa-compose rejects the second call with "next() called multiple times";
 *   awaited, it fails the call with INTERNAL blamed on the middleware like any error it throws.
 *
 * Not seen: a downstream that has already returned when its middleware returns (nothing of it is
 * left to run, so the reply is whole), and a second next() whose rejection the middleware drops
 * (an unhandled rejection: bin/node logs it; see SECURITY.md).
 */

/**
 * Where an error starts, its layer waits this long before it returns: two turns of the microtask
 * queue, so that a middleware above that returned without awaiting next() is seen to have done
 * so even when the downstream failed at once (a middleware's return is seen one turn after it
 * returned; a synchronous throw would otherwise be out in the same turn). Costs a failing call
 * two microtasks; the success path none.
 */
export async function settled(): Promise<void> {
  await undefined;
}

/**
 * Marks the layer counted `open` returned. Returns false when the middleware above it returned
 * early and waits for it: nobody holds this layer's promise, which must then not reject.
 */
export function leave(frame: CallFrame, open: number): boolean {
  let level = open - 1;
  // A layer above that tail-called next() over this one is done now too (lib/core/layers.ts).
  const tails = frame.tails;
  if (tails !== undefined) {
    for (let i = tails.indexOf(level); i !== -1; i = tails.indexOf(level)) {
      tails.splice(i, 1);
      level--;
    }
  }
  frame.open = level;
  const waiting = frame.waiting;
  if (waiting === undefined) return true;
  for (let i = 0; i < waiting.length; i++) {
    const waiter = waiting[i];
    if (waiter?.level !== level) continue;
    waiting.splice(i, 1);
    waiter.wake();
    return false;
  }
  return true;
}

/** Reports a middleware that returned before its downstream, waits for it, and fails the call. */
export async function returnedEarly(
  frame: CallFrame,
  name: string,
  open: number,
  onError: (error: unknown, ctx: CallContext, at: string) => void,
): Promise<void> {
  const error = new StatusError(Status.INTERNAL, `middleware ${name} returned before the middleware and handler after it had finished: it must await next()`);
  const ctx = frame.ctx;
  onError(error, ctx, name);
  await new Promise<void>((wake) => (frame.waiting ??= []).push({ level: open, wake }));
  ctx.failure = { at: name, error, thrown: error, threw: true };
  ctx.status = Status.INTERNAL;
  // The first layer entered keeps the error: run() has no catch-all (lib/core/layers.ts).
  if (leave(frame, open) && open !== 1) throw error;
}

/** Reports a next() called after the call ended (`culprit` returned without waiting for it). */
export function refuseLateEntry(frame: CallFrame, culprit: string, onError: (error: unknown, ctx: CallContext, at: string) => void): Promise<void> {
  const error = new StatusError(Status.INTERNAL, `middleware ${culprit} called next() after it had returned; the call had ended, the rest was not run`);
  onError(error, frame.ctx, culprit);
  return Promise.resolve();
}
