/**
 * The messages of a streaming call on the stdio protocol (docs/streams-protocol.md), written and
 * read here only: the stdio host writes the node's, the stdio transport writes the client's and
 * reads the node's back.
 *
 * Client to node: `grpc_stream_open` {service, method, kind, request?, metadata} opens a call
 * whose id is the open's `msg_id`; `grpc_stream_msg` {stream, message} is one request message,
 * `grpc_stream_end` {stream} the half-close, `grpc_stream_cancel` {stream} the cancel. Node to
 * client: `grpc_stream_msg` {in_reply_to, message} is one response message, `grpc_stream_close`
 * {in_reply_to, status, interceptors_applied | interceptor_failed, response?} the call's end, with
 * the keys of `grpc_call_ok`.
 *
 * @packageDocumentation
 */
import { CallKind } from "../../core/call-kind.js";
import { dumps } from "./python-json.js";
import { type CallOutcome, outcomeFromReply, outcomeText } from "./replies.js";

/** The message types of a stream, both directions. */
export const StreamMessage = {
  OPEN: "grpc_stream_open",
  MSG: "grpc_stream_msg",
  END: "grpc_stream_end",
  CANCEL: "grpc_stream_cancel",
  CLOSE: "grpc_stream_close",
} as const;

/** The kinds a `grpc_stream_open` may name (a unary call is a `grpc_call`). */
export type StreamKind = typeof CallKind.SERVER_STREAM | typeof CallKind.CLIENT_STREAM | typeof CallKind.BIDI;

/** Whether `value` names a streaming kind. */
export function isStreamKind(value: unknown): value is StreamKind {
  return value === CallKind.SERVER_STREAM || value === CallKind.CLIENT_STREAM || value === CallKind.BIDI;
}

/** The node's `grpc_stream_msg` body as Python's json.dumps prints it, `msg_id` last. */
export function responseMessageText(stream: unknown, message: unknown, msgId: number): string {
  return `{"type": "grpc_stream_msg", "in_reply_to": ${dumps(stream)}, "message": ${dumps(message)}, "msg_id": ${msgId}}`;
}

/** The node's `grpc_stream_close` body: the outcome's keys as `grpc_call_ok` has them, `msg_id` last. */
export function closeText(stream: unknown, outcome: CallOutcome, msgId: number, list?: (names: readonly string[]) => string): string {
  return `{"type": "grpc_stream_close", "in_reply_to": ${dumps(stream)}, ${outcomeText(outcome, list)}, "msg_id": ${msgId}}`;
}

/** The client's `grpc_stream_open` body, without `msg_id` (the sender numbers it). */
export function openBody(kind: StreamKind, service: string, method: string, request: unknown, metadata: Readonly<Record<string, string>>): Record<string, unknown> {
  return kind === CallKind.SERVER_STREAM
    ? { type: StreamMessage.OPEN, service, method, kind, request, metadata }
    : { type: StreamMessage.OPEN, service, method, kind, metadata };
}

/** The client's `grpc_stream_msg` body: one request message of stream `stream`. */
export const requestMessageBody = (stream: number, message: unknown): Record<string, unknown> => ({ type: StreamMessage.MSG, stream, message });

/** The client's `grpc_stream_end` body: the half-close of stream `stream`. */
export const halfCloseBody = (stream: number): Record<string, unknown> => ({ type: StreamMessage.END, stream });

/** The client's `grpc_stream_cancel` body. */
export const cancelBody = (stream: number): Record<string, unknown> => ({ type: StreamMessage.CANCEL, stream });

/**
 * The outcome a node's `grpc_stream_close` carries, read back: the keys of `grpc_call_ok`. An
 * `error` reply throws its status, as for a grpc_call.
 */
export function outcomeFromClose(body: Readonly<Record<string, unknown>>): CallOutcome {
  if (body["type"] === StreamMessage.CLOSE) return outcomeFromReply({ ...body, type: "grpc_call_ok" });
  // Only a close ends a stream: a grpc_call_ok for its id is an unexpected reply type.
  return outcomeFromReply(body["type"] === "grpc_call_ok" ? { ...body, type: "grpc_call_ok (for a stream)" } : body);
}
