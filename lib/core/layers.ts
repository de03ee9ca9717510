import { CallKind, isAsyncIterable, streamsResponses } from "./call-kind.js";
import { type CallContext, callInternals, HANDLER } from "./context.js";
import type { CallFrame } from "./frame.js";
import type { Handler, Middleware, Next } from "./middleware.js";
import { leave, refuseLateEntry, returnedEarly, settled } from "./misuse.js";
import { Status } from "./status.js";
import { StatusError } from "./status-error.js";
import { blameOf, pump, type Send } from "./streams.js";
import { isThenable } from "./thenable.js";

/**
 * The layers koa-compose runs for an {@link Application}: each middleware, then the handler,
 * wrapped so that the pipeline itself keeps the call's bookkeeping (lib/core/frame.ts), records
 * who failed it, catches misuse of next() (lib/core/misuse.ts), lets tail calls leave with their
 * downstream (lib/core/tail-call.ts), and, in the handler's layer, pumps a streamed response to
 * the host (docs/streams.md).
 */

/** A middleware or the handler as koa-compose runs it: over the call's frame, not its context. */
export type Layer = (frame: CallFrame, next: Next) => Promise<void> | void | undefined;

/** What the layers share of their Application. */
export interface Pipeline {
  /** Records `thrown` as the call's failure at `at`, and reports a server fault. */
  readonly record: (ctx: CallContext, at: string, thrown: unknown) => void;
  /** Where misuse of next() is reported. */
  readonly onError: (error: unknown, ctx: CallContext, at: string) => void;
  /** The middleware names, by index. */
  readonly names: readonly string[];
}

/** What a layer that finished synchronously gives back: one settled promise for every call. */
export const RESOLVED: Promise<void> = Promise.resolve();

/** The layer of the middleware `name`, at `index` in the chain. */
export function middlewareLayer(middleware: Middleware, name: string, index: number, pipeline: Pipeline): Layer {
  const { record, onError, names } = pipeline;
  /** The middleware returned (or its promise resolved): the layer's bookkeeping on the way out. */
  const returned = (frame: CallFrame, open: number): Promise<void> | undefined => {
    // Returned while layers under it still run: it did not await next().
    if (frame.open !== open) return returnedEarly(frame, name, open, onError);
    leave(frame, open);
    const ctx = frame.ctx;
    if (ctx.failure !== undefined) {
      // An error from further in that this middleware caught and did not rethrow is handled.
      if (ctx.failure.threw) ctx.failure = undefined;
    } else if (frame.depth === index && ctx.status !== Status.OK) {
      // Ended the call with an error status without calling next() or throwing.
      ctx.failure = { at: name, error: new StatusError(ctx.status, `ended by ${name}`), thrown: undefined, threw: false };
    }
    return undefined;
  };
  /** The middleware threw (or its promise rejected). */
  const threw = async (frame: CallFrame, thrown: unknown, open: number): Promise<void> => {
    if (frame.open !== open) return returnedEarly(frame, name, open, onError);
    thrown = outcomeOf(frame.ctx, thrown);
    // Only the innermost layer that sees an error blames itself; an error passing through
    // unchanged keeps the blame where it was thrown.
    const failure = frame.ctx.failure;
    if (failure === undefined || !failure.threw || failure.thrown !== thrown) {
      record(frame.ctx, name, thrown);
      await settled(); // lets an early return above be seen first (lib/core/misuse.ts)
    }
    // The first layer entered (open === 1; not always index 0, when() may pass layers by)
    // has no one further out to see the error: it keeps it, so run() needs no catch-all.
    if (leave(frame, open) && open !== 1) throw thrown;
  };
  /** Waits for what the middleware returned, then does the layer's bookkeeping. */
  const awaited = async (frame: CallFrame, result: unknown, open: number): Promise<void> => {
    try {
      await result;
    } catch (thrown) {
      return threw(frame, thrown, open);
    }
    return returned(frame, open);
  };
  const wrapped = (frame: CallFrame, next: Next): Promise<void> => {
    // Entered after every layer returned: a next() called after its middleware returned.
    if (frame.open === 0 && frame.ctx.applied.length !== 0) return refuseLateEntry(frame, names[frame.depth] ?? name, onError);
    frame.depth = index;
    frame.ctx.applied.push(name);
    const open = ++frame.open;
    let result: unknown;
    try {
      result = middleware(frame.ctx, next);
    } catch (thrown) {
      return (frame.returned = threw(frame, thrown, open));
    }
    // A tail call (lib/core/tail-call.ts): the middleware returned the very promise the layer
    // under it gave back. When that downstream has already finished, every layer under this
    // one back out (frame.open is this layer's count again), the middleware has nothing left
    // to do, so its layer is done too, with no await and no microtask of its own: so end
    // auth and rate_limit on bin/node's hot path, behind a synchronous handler.
    // Anything else waits for the middleware's promise, as an async layer would.
    if (result === frame.returned && result !== undefined && frame.depth > index) {
      if (frame.open === open) {
        // With no error to settle and no other layer waiting or tail-calling: just leave.
        if (frame.ctx.failure === undefined && frame.tails === undefined && frame.waiting === undefined) frame.open = open - 1;
        else returned(frame, open);
        return result as Promise<void>;
      }
      // A tail call over a downstream still running (waiting for Redis, say): the layer is
      // done when the downstream is, so it leaves with it (lib/core/misuse.ts: leave) instead
      // of holding an async frame until then (with the Redis limiter, hundreds of calls are
      // in flight and their frames survive every scavenge). Not the first layer entered: it
      // keeps errors from run(), so it must see them.
      if (open !== 1) {
        (frame.tails ??= []).push(open);
        return result as Promise<void>;
      }
    }
    return (frame.returned = awaited(frame, result, open));
  };
  Object.defineProperty(wrapped, "name", { value: name });
  return wrapped;
}

/** The handler's layer, after the `index` middleware. */
export function handlerLayer(handler: Handler, index: number, pipeline: Pipeline): Layer {
  const { record, onError, names } = pipeline;
  const failed = async (frame: CallFrame, thrown: unknown, open: number): Promise<void> => {
    thrown = outcomeOf(frame.ctx, thrown);
    // An error a middleware's stream wrapper threw surfaces in the handler: it is that middleware's.
    record(frame.ctx, blameOf(thrown) ?? HANDLER, thrown);
    await settled(); // lets an early return above be seen first (lib/core/misuse.ts)
    if (leave(frame, open) && open !== 1) throw thrown;
  };
  const settle = async (frame: CallFrame, pending: PromiseLike<unknown>, open: number): Promise<void> => {
    try {
      await pending;
    } catch (thrown) {
      return failed(frame, thrown, open);
    }
    // Finished after the call was cancelled: the cancellation is the outcome.
    if (callInternals.aborted(frame.ctx)) return failed(frame, frame.ctx.signal.reason, open);
    leave(frame, open);
  };
  /** A streaming call: the handler, then its response stream pumped to the host's send. */
  const streamed = async (frame: CallFrame, open: number): Promise<void> => {
    const ctx = frame.ctx;
    try {
      await handler(ctx);
      if (streamsResponses(ctx.kind)) {
        const stream = ctx.response;
        if (!isAsyncIterable(stream)) throw new StatusError(Status.INTERNAL, `${ctx.service}/${ctx.method} answered a ${ctx.kind} call without a stream`);
        await pump(callInternals.responseStream(ctx, stream), frame.send as Send, ctx.signal, () => callInternals.sent(ctx));
        // Every message has gone; the call ends with a status and no message of its own.
        ctx.response = undefined;
      }
      if (callInternals.aborted(ctx)) throw ctx.signal.reason;
    } catch (thrown) {
      return failed(frame, thrown, open);
    }
    leave(frame, open);
  };
  // Synchronous when the handler is (koa-compose makes a promise of it either way): a unary
  // handler that answers at once costs no async frame and no microtask of its own.
  return function handler_(frame: CallFrame): Promise<void> | void {
    if (frame.open === 0 && frame.ctx.applied.length !== 0) return refuseLateEntry(frame, names[frame.depth] ?? HANDLER, onError);
    frame.depth = index;
    frame.handled = true;
    const open = ++frame.open;
    const ctx = frame.ctx;
    // Cancelled or past its deadline before the handler: it does no work (a Put not applied).
    if (callInternals.aborted(ctx)) return (frame.returned = failed(frame, ctx.signal.reason, open));
    if (ctx.kind !== CallKind.UNARY) return (frame.returned = streamed(frame, open));
    let result: Promise<void> | void;
    try {
      result = handler(ctx);
    } catch (thrown) {
      return (frame.returned = failed(frame, thrown, open));
    }
    if (isThenable(result)) return (frame.returned = settle(frame, result, open));
    leave(frame, open);
    return (frame.returned = RESOLVED);
  };
}

/**
 * What a layer that saw `thrown` ends the call with: once the call is cancelled, the
 * cancellation's reason (the handler's AbortError on seeing it, say, is not the outcome).
 */
function outcomeOf(ctx: CallContext, thrown: unknown): unknown {
  return callInternals.aborted(ctx) ? ctx.signal.reason : thrown;
}
