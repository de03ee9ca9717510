import { AsyncLocalStorage } from "node:async_hooks";

/**
 * What the client pipeline may know about the inbound call being handled: the server-side
 * `propagate()` middleware sets it for the rest of that call (handler included), the client-side
 * `propagate()` reads it on every outbound call made meanwhile, through any transport.
 */
export interface InboundCall {
  /** A metadata entry (a request header in Koa) of the inbound call; undefined when absent. */
  header(name: string): string | undefined;
  /** The metadata keys, lower-cased, that outbound calls carry on. */
  readonly metadata: readonly string[];
  /** Milliseconds left before the inbound call's deadline; undefined when it has none. */
  remainingMs(): number | undefined;
  /** Aborts when the inbound call is cancelled (or its deadline passes, where the host says so). */
  readonly signal: AbortSignal | undefined;
}

const storage = new AsyncLocalStorage<InboundCall>();

/** The inbound call whose handling the caller is part of, if a server-side `propagate()` set one. */
export function currentInbound(): InboundCall | undefined {
  return storage.getStore();
}

/** Runs `work` (and everything it starts) as part of handling `call`. */
export function runInbound<T>(call: InboundCall, work: () => T): T {
  return storage.run(call, work);
}
