import { isAsyncIterable, streamsRequests, streamsResponses } from "./call-kind.js";
import { type CallContext, callInternals, PIPELINE } from "./context.js";
import { Status } from "./status.js";
import { StatusError } from "./status-error.js";
import { receiving } from "./streams.js";

/**
 * The longest delay a Node timer keeps (2^31 - 1 ms, ~24.8 days): a longer one fires at once.
 * A budget beyond it (grpc-timeout allows 99999999H) arms no timer: it cannot pass while the
 * process is likely to run, and firing at once would fail the call at its start.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What {@link withLifetime} needs to know of the call beyond its context. */
export interface Lifetime {
  /** The call's budget from `grpc-timeout`, in ms; undefined for none. */
  readonly timeoutMs: number | undefined;
  /** Set once the server shuts down: the call is cancelled with it at once. */
  readonly closing: StatusError | undefined;
  /** Whether the host gave `run()` a send for a streamed response. */
  readonly canSend: boolean;
}

/**
 * Runs `run` (the pipeline) for a call with something to own while it runs, and releases all
 * of it in `finally` however the call ends: the deadline timer that aborts `ctx.signal` with
 * DEADLINE_EXCEEDED, the listener that turns the host signal's abort into `ctx.cancel()`, and
 * the reader over a streamed request that counts its messages and fails a pull waiting past
 * the abort, returned when the call ends (so the host's request stream is closed even when the
 * handler neither read it to its end nor broke out of it). A call that cannot run (a streamed request that is not an AsyncIterable, a
 * streamed response with nowhere to go) ends INTERNAL before any middleware: a host's bug.
 */
export async function withLifetime(ctx: CallContext, lifetime: Lifetime, run: () => Promise<void>): Promise<void> {
  const host = callInternals.hostSignal(ctx);
  const onHostAbort = (): void => ctx.cancel(host?.reason instanceof StatusError ? host.reason : new StatusError(Status.CANCELLED, "cancelled by the client"));
  const { timeoutMs, closing } = lifetime;
  let timer: NodeJS.Timeout | undefined;
  let requests: AsyncGenerator<unknown, void, undefined> | undefined;
  try {
    if (closing !== undefined) ctx.cancel(closing);
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) timer = setTimeout(() => ctx.cancel(new StatusError(Status.DEADLINE_EXCEEDED, `deadline of ${timeoutMs} ms exceeded`)), timeoutMs);
    if (host !== undefined) {
      if (host.aborted) onHostAbort();
      else host.addEventListener("abort", onHostAbort, { once: true });
    }
    if (streamsRequests(ctx.kind)) {
      if (!isAsyncIterable(ctx.request)) return void refuse(ctx, new StatusError(Status.INTERNAL, `a ${ctx.kind} call needs an AsyncIterable request`));
      ctx.request = requests = receiving(ctx.request, ctx.signal, () => callInternals.received(ctx));
    }
    if (streamsResponses(ctx.kind) && !lifetime.canSend) return void refuse(ctx, new StatusError(Status.INTERNAL, `a ${ctx.kind} call needs run(ctx, send)`));
    await run();
  } finally {
    clearTimeout(timer);
    host?.removeEventListener("abort", onHostAbort);
    // Not awaited: a reader still waiting on the host's next message returns once it arrives.
    if (requests !== undefined) void requests.return().catch(() => undefined);
  }
}

/** Ends a call before any middleware ran: its status from `thrown`, recorded at {@link PIPELINE}. */
export function refuse(ctx: CallContext, thrown: unknown): void {
  const error = StatusError.from(thrown);
  ctx.failure = { at: PIPELINE, error, thrown, threw: true };
  ctx.status = error.code;
}
