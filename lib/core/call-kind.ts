/**
 * The four kinds of call, gRPC's: one request and one response (`unary`), one request and a
 * stream of responses (`server_stream`), a stream of requests and one response
 * (`client_stream`), streams both ways (`bidi`). A stream is an `AsyncIterable` of messages.
 */
export const CallKind = {
  UNARY: "unary",
  SERVER_STREAM: "server_stream",
  CLIENT_STREAM: "client_stream",
  BIDI: "bidi",
} as const;

/** One of the four {@link CallKind}s. */
export type CallKind = (typeof CallKind)[keyof typeof CallKind];

/** Whether calls of `kind` carry a stream of requests (`ctx.request` is an AsyncIterable). */
export function streamsRequests(kind: CallKind): boolean {
  return kind === CallKind.CLIENT_STREAM || kind === CallKind.BIDI;
}

/** Whether calls of `kind` answer with a stream (`ctx.response` is an AsyncIterable). */
export function streamsResponses(kind: CallKind): boolean {
  return kind === CallKind.SERVER_STREAM || kind === CallKind.BIDI;
}

/** Whether `value` is one of the four kinds. */
export function isCallKind(value: unknown): value is CallKind {
  return value === CallKind.UNARY || value === CallKind.SERVER_STREAM || value === CallKind.CLIENT_STREAM || value === CallKind.BIDI;
}

/** Whether `value` can be read with `for await` (has `Symbol.asyncIterator`). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}
