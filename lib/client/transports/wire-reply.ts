import { isStatusName, Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import type { Reply } from "../transport.js";

/** Maelstrom's error code for "not supported". */
const NOT_SUPPORTED = 10;

/**
 * The body of bin/node's reply to a `grpc_call` as a {@link Reply} (PROTOCOL.md). An `error`
 * reply throws its status: code 10 (not supported) is UNIMPLEMENTED, any other UNKNOWN.
 */
export function replyFromWire(body: Readonly<Record<string, unknown>>): Reply {
  if (body["type"] === "error") {
    const code = body["code"] === NOT_SUPPORTED ? Status.UNIMPLEMENTED : Status.UNKNOWN;
    throw new StatusError(code, `the node answered error ${String(body["code"])}: ${String(body["text"])}`);
  }
  if (body["type"] !== "grpc_call_ok") throw new StatusError(Status.UNKNOWN, `unexpected reply type ${JSON.stringify(body["type"])}`);
  const status = body["status"];
  const applied = body["interceptors_applied"];
  const failed = body["interceptor_failed"];
  return {
    status: isStatusName(status) ? status : Status.UNKNOWN,
    response: body["response"],
    interceptorsApplied: Array.isArray(applied) ? applied.filter((name): name is string => typeof name === "string") : undefined,
    interceptorFailed: typeof failed === "string" ? failed : undefined,
  };
}
