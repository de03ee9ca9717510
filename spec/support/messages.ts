/** Builders for the input lines of bin/node (compact JSON: how a test runner sends them). */

/** The metadata of a call that passes auth with bin/node's default token. */
export const AUTHORIZED: Readonly<Record<string, string>> = { authorization: "Bearer valid_token" };

/** `init` from client c0 naming the node n1. */
export function init(msgId = 1, nodeId = "n1"): string {
  return JSON.stringify({ src: "c0", dest: nodeId, body: { type: "init", msg_id: msgId, node_id: nodeId, node_ids: [nodeId] } });
}

/** What {@link call} sends; everything but msgId has a default. */
export interface CallSpec {
  readonly msgId: number;
  readonly src?: string;
  readonly service?: string;
  readonly method?: string;
  readonly request?: unknown;
  readonly metadata?: unknown;
}

/** A `grpc_call`; by default an authorized `KeyValue/Get {key: "k"}` from c1. */
export function call(spec: CallSpec): string {
  const { msgId, src = "c1", service = "KeyValue", method = "Get", request = { key: "k" }, metadata = AUTHORIZED } = spec;
  return JSON.stringify({ src, dest: "n1", body: { type: "grpc_call", msg_id: msgId, service, method, request, metadata } });
}

/** `grpc_interceptor_stats` from c1. */
export function stats(msgId: number): string {
  return JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_interceptor_stats", msg_id: msgId } });
}

/** A reply line parsed, with the fields the specs read. */
export interface Reply {
  readonly src: string;
  readonly dest: string;
  readonly body: Record<string, unknown> & { readonly type: string; readonly msg_id: number; readonly in_reply_to?: number };
}

/** Parses a stdout line; throws when it is not a JSON object. */
export function parseReply(line: string): Reply {
  const value: unknown = JSON.parse(line);
  if (value === null || typeof value !== "object") throw new Error(`not a reply: ${line}`);
  return value as Reply;
}
