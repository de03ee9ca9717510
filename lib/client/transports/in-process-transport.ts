import type { Application } from "../../core/application.js";
import { CallContext } from "../../core/context.js";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import { callOutcomeOf } from "../../hosts/stdio/replies.js";
import type { OutgoingCall, OutgoingStreamCall, Receive, Reply, Transport } from "../transport.js";

/** Options of {@link InProcessTransport}. */
export interface InProcessTransportOptions {
  /** Who the server sees calling (`ctx.peer`, the rate limiter's key). Default "in-process". */
  readonly peer?: string;
}

/**
 * A transport straight into an {@link Application} in the same process: each call becomes a
 * server {@link CallContext} run through `app.run()`, with no serialization, for tests and
 * embedding. Request and response objects are shared, not copied: don't change them after
 * sending. The call's signal is the server context's signal too, so a handler that honours
 * `ctx.signal` stops when the client gives up.
 *
 * @example
 *   const client = createClient(new InProcessTransport(app, { peer: "c1" }));
 */
export class InProcessTransport implements Transport {
  readonly #app: Pick<Application, "run">;
  readonly #peer: string;
  #closed = false;

  constructor(app: Pick<Application, "run">, options: InProcessTransportOptions = {}) {
    if (app === null || typeof app !== "object" || typeof app.run !== "function") throw new TypeError("InProcessTransport: app must be an Application");
    if (options.peer !== undefined && (typeof options.peer !== "string" || options.peer === "")) throw new TypeError("InProcessTransport: peer must be a non-empty string");
    this.#app = app;
    this.#peer = options.peer ?? "in-process";
  }

  async unary(call: OutgoingCall): Promise<Reply> {
    if (this.#closed) throw new StatusError(Status.UNAVAILABLE, "transport closed");
    const { service, method, request, metadata, signal } = call;
    const ctx = new CallContext({ service, method, request, metadata, peer: this.#peer, ...(signal === undefined ? {} : { signal }) });
    await abortable(this.#app.run(ctx), call.signal);
    return replyOf(ctx);
  }

  /**
   * A streaming call, run as the server's `app.run(ctx, receive)`: request messages are pulled
   * from the caller's iterable as the handler reads them, response messages handed to
   * `receive` one at a time. The call's signal cancels the server call (its `ctx.signal`
   * aborts and its stream stops being pulled).
   */
  async stream(call: OutgoingStreamCall, receive: Receive): Promise<Reply> {
    if (this.#closed) throw new StatusError(Status.UNAVAILABLE, "transport closed");
    const { service, method, request, metadata, signal, kind } = call;
    const ctx = new CallContext({ service, method, request, metadata, kind, peer: this.#peer, ...(signal === undefined ? {} : { signal }) });
    await abortable(this.#app.run(ctx, receive), signal);
    return replyOf(ctx);
  }

  /** Refuses further calls (UNAVAILABLE); calls in flight finish. Holds nothing else. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

/**
 * The reply bin/node would send for a finished server call (`grpc_call_ok`, docs/protocol.md),
 * with its own copy of the interceptor list.
 */
export function replyOf(ctx: CallContext): Reply {
  const outcome = callOutcomeOf(ctx);
  const applied = outcome.interceptorsApplied;
  return applied === undefined ? outcome : { ...outcome, interceptorsApplied: [...applied] };
}

/** `work`, or a rejection with the signal's reason as soon as it aborts; the listener is removed either way. */
function abortable(work: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    void work.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
