/** Builders for the streaming input lines of bin/node (docs/streams-protocol.md), compact JSON. */
import { AUTHORIZED } from "./messages.js";

/** A `grpc_stream_open` from c1; authorized by default. */
export function open(msgId: number, method: string, kind: string, request?: unknown, metadata: Record<string, string> = AUTHORIZED): string {
  const body = request === undefined
    ? { type: "grpc_stream_open", msg_id: msgId, service: "KeyValue", method, kind, metadata }
    : { type: "grpc_stream_open", msg_id: msgId, service: "KeyValue", method, kind, request, metadata };
  return JSON.stringify({ src: "c1", dest: "n1", body });
}

/** One request message of stream `stream` from c1. */
export const streamMsg = (msgId: number, stream: number, message: unknown): string =>
  JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_stream_msg", msg_id: msgId, stream, message } });

/** The half-close of stream `stream`. */
export const streamEnd = (msgId: number, stream: number): string => JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_stream_end", msg_id: msgId, stream } });

/** The cancel of stream `stream`. */
export const streamCancel = (msgId: number, stream: number): string => JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_stream_cancel", msg_id: msgId, stream } });
