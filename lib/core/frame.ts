import type { CallContext } from "./context.js";
import type { Send } from "./streams.js";

/** A middleware that returned before its downstream, waiting for it (lib/core/misuse.ts). */
export interface Waiter {
  /** Its own count in {@link CallFrame.open}: it goes on once `open` is back to this. */
  readonly level: number;
  readonly wake: () => void;
}

/**
 * The pipeline's bookkeeping for one call, beside the {@link CallContext} the middleware see:
 * the Application makes one per `run()` and hands it, not the context, to koa-compose, so its
 * layers read and write these fields and the middleware never see them. Internal to the core:
 * not exported by the package.
 */
export class CallFrame {
  /** The call as the middleware and the handler see it. */
  readonly ctx: CallContext;
  /** Whether the handler was reached. */
  handled = false;
  /** Index of the innermost layer entered so far. */
  depth = -1;
  /**
   * Layers (middleware and handler) entered and not yet returned. A middleware that returns
   * while this is above its own count did not wait for next().
   */
  open = 0;
  /** Middleware that returned early, waiting for the layers under them to return; made only then. */
  waiting: Waiter[] | undefined = undefined;
  /**
   * The promise the layer that returned last gave back: a middleware that returns exactly this
   * after its downstream has finished tail-called next() (lib/core/tail-call.ts).
   */
  returned: Promise<void> | undefined = undefined;
  /**
   * Levels (counts in {@link open}) of layers whose middleware tail-called next() while the
   * layers under them still ran: they are done when those are. Made only then.
   */
  tails: number[] | undefined = undefined;
  /** Where a streamed response goes: the host's, given to `run()`. */
  send: Send | undefined = undefined;

  constructor(ctx: CallContext) {
    this.ctx = ctx;
  }
}
