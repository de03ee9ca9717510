/**
 * The reply bodies of the stdio protocol (docs/protocol.md), written and read here only: the
 * stdio host renders them, the in-process transport answers with the same outcome, bin/call
 * prints it, and the stdio transport reads it back.
 *
 * @packageDocumentation
 */
import type { CallContext } from "../../core/context.js";
import { isStatusName, Status, type StatusName } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import type { Body } from "./outbox.js";
import { dumps, quote } from "./python-json.js";

/** Maelstrom's error code for a message type the node does not support. */
export const NOT_SUPPORTED = 10;

/**
 * What `grpc_call_ok` says about a call besides its ids, in the wire's key order: `status`,
 * then either `interceptor_failed` (a middleware ended the call; no response) or
 * `interceptors_applied` and, when there is one, `response`.
 */
export interface CallOutcome {
  readonly status: StatusName;
  /** The middleware that ended the call, if one did. */
  readonly interceptorFailed?: string | undefined;
  /** The middleware the call passed, outermost first, when none ended it. */
  readonly interceptorsApplied?: readonly string[] | undefined;
  /** The response message, when the call produced one (NOT_FOUND from KeyValue/Get does). */
  readonly response?: unknown;
  /**
   * The wait a refused call was told (rate_limit's `retryAfterMs`), as `retry_after_ms` after
   * `interceptor_failed`: an extension of the protocol, sent only when the node is asked to
   * (`--wire-retry-after`), read back whenever present.
   */
  readonly retryAfterMs?: number | undefined;
}

/**
 * The outcome of a finished server call as `grpc_call_ok` carries it; shares `ctx.applied`.
 * With `withRetryAfter`, a refusal's wait goes with it (see {@link CallOutcome.retryAfterMs}).
 */
export function callOutcomeOf(ctx: CallContext, withRetryAfter = false): CallOutcome {
  const failed = ctx.interceptorFailed;
  if (failed !== undefined) {
    const wait = withRetryAfter ? ctx.failure?.error.details?.["retryAfterMs"] : undefined;
    return typeof wait === "number" && Number.isFinite(wait)
      ? { status: ctx.status, interceptorFailed: failed, retryAfterMs: Math.ceil(wait) }
      : { status: ctx.status, interceptorFailed: failed };
  }
  return { status: ctx.status, interceptorsApplied: ctx.applied, response: ctx.responseToSend };
}

/**
 * The outcome's keys as Python's json.dumps prints them, without the braces: the middle of a
 * `grpc_call_ok` body. A key whose value is undefined is left out. `list` prints
 * `interceptors_applied`; the stdio host passes a {@link stringListDumper} because the list
 * repeats call after call.
 *
 * @example
 *   outcomeText({ status: "UNAUTHENTICATED", interceptorFailed: "auth" })
 *   // '"status": "UNAUTHENTICATED", "interceptor_failed": "auth"'
 */
export function outcomeText(outcome: CallOutcome, list: (names: readonly string[]) => string = dumps): string {
  let text = `"status": ${quote(outcome.status)}`;
  if (outcome.interceptorFailed !== undefined) text += `, "interceptor_failed": ${quote(outcome.interceptorFailed)}`;
  if (outcome.retryAfterMs !== undefined) text += `, "retry_after_ms": ${dumps(outcome.retryAfterMs)}`;
  if (outcome.interceptorsApplied !== undefined) text += `, "interceptors_applied": ${list(outcome.interceptorsApplied)}`;
  if (outcome.response !== undefined) text += `, "response": ${dumps(outcome.response)}`;
  return text;
}

/**
 * The whole `grpc_call_ok` body as text, `msg_id` last: the stdio host's reply to every call,
 * rendered without building an object.
 */
export function callReplyText(inReplyTo: unknown, outcome: CallOutcome, msgId: number, list?: (names: readonly string[]) => string): string {
  return `{"type": "grpc_call_ok", "in_reply_to": ${dumps(inReplyTo)}, ${outcomeText(outcome, list)}, "msg_id": ${msgId}}`;
}

/** `init_ok`. */
export const initReply = (inReplyTo: unknown): Body => ({ type: "init_ok", in_reply_to: inReplyTo });

/** `grpc_interceptor_stats_ok` with the counts of `Stats.toWire()`. */
export const statsReply = (inReplyTo: unknown, stats: object): Body => ({ type: "grpc_interceptor_stats_ok", in_reply_to: inReplyTo, stats });

/** `error` with code {@link NOT_SUPPORTED}, for a message type the node does not know. */
export const notSupportedReply = (inReplyTo: unknown, type: string): Body => ({
  type: "error",
  in_reply_to: inReplyTo,
  code: NOT_SUPPORTED,
  text: `unsupported message type: ${type}`,
});

/**
 * The outcome a `grpc_call` reply body carries, read back. An `error` reply throws its status:
 * {@link NOT_SUPPORTED} is UNIMPLEMENTED, any other code UNKNOWN; so does a reply of another
 * type. A status the client does not know reads as UNKNOWN.
 */
export function outcomeFromReply(body: Readonly<Record<string, unknown>>): CallOutcome {
  if (body["type"] === "error") {
    const code = body["code"] === NOT_SUPPORTED ? Status.UNIMPLEMENTED : Status.UNKNOWN;
    throw new StatusError(code, `the node answered error ${String(body["code"])}: ${String(body["text"])}`);
  }
  if (body["type"] !== "grpc_call_ok") throw new StatusError(Status.UNKNOWN, `unexpected reply type ${JSON.stringify(body["type"])}`);
  const status = body["status"];
  const applied = body["interceptors_applied"];
  const failed = body["interceptor_failed"];
  const wait = body["retry_after_ms"];
  return {
    ...(typeof wait === "number" ? { retryAfterMs: wait } : {}),
    status: isStatusName(status) ? status : Status.UNKNOWN,
    response: body["response"],
    interceptorsApplied: Array.isArray(applied) ? applied.filter((name): name is string => typeof name === "string") : undefined,
    interceptorFailed: typeof failed === "string" ? failed : undefined,
  };
}
