import { randomUUID } from "node:crypto";
import { CallContext } from "../lib/core/context.js";
import { type KoaContext, requestHeader } from "../lib/core/host-context.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";

/** What requestId adds to `ctx.state`. */
export interface RequestIdState {
  requestId: string;
}

/** Options of {@link requestId}. */
export interface RequestIdOptions {
  /** The metadata key (header) carrying it; default "x-request-id". */
  readonly header?: string;
  /** Makes a new id; default `crypto.randomUUID()`. */
  readonly generate?: () => string;
}

/** Longest id accepted from a caller; a longer one is replaced (it would end up in every log line). */
const MAX_ID_LENGTH = 200;

/**
 * Gives every call a request id: the caller's `x-request-id` when it sent a usable one
 * (printable ASCII, at most 200 characters), otherwise a new UUID. The id is put into
 * `ctx.state.requestId` and into the call's metadata (so `propagate({ metadata:
 * ["x-request-id"] })` carries it on), and returned: in Koa as the `X-Request-Id` response
 * header; the stdio wire has no response metadata, so there it stays in the state.
 *
 * @example
 *   app.use(requestId()).use(propagate({ metadata: ["x-request-id"] }));
 */
export function requestId(options: RequestIdOptions = {}): PortableMiddleware<object, RequestIdState> {
  const header = (options.header ?? "x-request-id").toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(header)) throw new TypeError(`requestId(): header must be a header name, got ${JSON.stringify(options.header)}`);
  const generate = options.generate ?? randomUUID;
  if (typeof generate !== "function") throw new TypeError("requestId(): generate must be a function");

  return function requestId(ctx: CallContext<Partial<RequestIdState>> | KoaContext, next: Next): Promise<void> {
    const sent = requestHeader(ctx, header);
    const id = sent !== undefined && sent.length <= MAX_ID_LENGTH && /^[\x21-\x7e]+$/.test(sent) ? sent : generate();
    (ctx.state as Partial<RequestIdState>).requestId = id;
    if (ctx instanceof CallContext) {
      if (id !== sent) ctx.metadata.set(header, id);
    } else {
      if (id !== sent) (ctx.headers as Record<string, string>)[header] = id;
      ctx.set(header, id);
    }
    return Promise.resolve(next());
  };
}
