import compose from "koa-compose";
import type { Next } from "../core/middleware.js";
import { StatusError } from "../core/status-error.js";
import type { ClientCallContext } from "./call-context.js";
import { type ClientMiddleware, RESENDS } from "./middleware.js";

/** A middleware with the name it was `use`d under. */
export interface Layer {
  readonly name: string;
  readonly middleware: ClientMiddleware;
}

/** Runs a call through (part of) the pipeline; never rejects. */
export type Run = (ctx: ClientCallContext) => Promise<void>;

type Composable = (ctx: ClientCallContext, next: Next) => Promise<void>;

/**
 * Builds the outbound pipeline: `layers`, outermost first, then `send` (the transport).
 *
 * The layers run under koa-compose, which gives each middleware one `next()` per run and
 * refuses a second ("next() called multiple times"), as on the server. A middleware marked
 * {@link resending} (retry) must re-send, so the chain is cut after it: its `next()` starts a
 * fresh koa-compose run of the layers inside it, with the previous attempt's outcome cleared,
 * and refuses to overlap a run still going.
 *
 * Each layer's own throw becomes the call's outcome (`StatusError.from`), so `next()` never
 * rejects and every layer outside reads the outcome from the context.
 */
export function buildPipeline(layers: readonly Layer[], send: Run): Run {
  let inner: Run = send;
  let group: Composable[] = [];
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    if (layer.middleware[RESENDS] === true) {
      const rest = chain(group, inner);
      group = [resendingLayer(layer, rest)];
      inner = rest; // never reached through koa-compose: the resending layer calls `rest` itself
    } else {
      group.unshift(guardedLayer(layer));
    }
  }
  return chain(group, inner);
}

function chain(group: Composable[], after: Run): Run {
  if (group.length === 0) return after;
  const run = compose(group);
  return (ctx) => run(ctx, () => after(ctx));
}

function guardedLayer({ middleware }: Layer): Composable {
  return async (ctx, next) => {
    try {
      await middleware(ctx, next);
    } catch (thrown) {
      ctx.fail(StatusError.from(thrown));
    }
  };
}

function resendingLayer({ name, middleware }: Layer, rest: Run): Composable {
  return async (ctx) => {
    let running: Promise<void> | undefined;
    const attempt = async (): Promise<void> => {
      try {
        await rest(ctx);
      } finally {
        running = undefined;
      }
    };
    const next = (): Promise<void> => {
      if (running !== undefined) return Promise.reject(new Error(`${name}: next() called again before the previous attempt ended`));
      ctx.clearOutcome();
      return (running = attempt());
    };
    try {
      await middleware(ctx, next);
    } catch (thrown) {
      // An attempt still in flight would land its answer over this failure: let it end first.
      if (running !== undefined) await running.catch(() => {});
      ctx.fail(StatusError.from(thrown));
    }
  };
}
