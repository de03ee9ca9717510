import { Metadata as GrpcMetadata, type StatusObject } from "@grpc/grpc-js";
import { Status, statusCode } from "../../core/status.js";
import type { StatusError } from "../../core/status-error.js";
import { encodeStatusDetails, type ErrorInfo, type FieldViolation, PUSHBACK_KEY, type RichDetails, STATUS_DETAILS_KEY } from "../../grpc/rich-status.js";
import type { GrpcCallContext } from "./grpc-call-context.js";

/** A status as grpc-js sends it: code, message, and trailers when there are any. */
export type WireStatus = Pick<StatusObject, "code" | "details"> & { metadata?: GrpcMetadata };

/** ErrorInfo's rule for a reason: UPPER_SNAKE_CASE, at most 63 characters. */
const REASON = /^[A-Z][A-Z0-9_]{0,62}$/;
/** ErrorInfo's domain when the error names none. */
const DEFAULT_DOMAIN = "rpc-interceptors";

/**
 * google.rpc.ErrorInfo from an exposed error's `details.reason` (UPPER_SNAKE_CASE), with
 * `details.domain` (default "rpc-interceptors") and the string values of `details.metadata`:
 * authorize()'s PERMISSION_DENIED says INSUFFICIENT_SCOPE and which scope.
 */
function errorInfoOf(error: StatusError, details: Readonly<Record<string, unknown>>): ErrorInfo | undefined {
  const reason = details["reason"];
  if (!error.expose || typeof reason !== "string" || !REASON.test(reason)) return undefined;
  const domain = typeof details["domain"] === "string" ? details["domain"] : DEFAULT_DOMAIN;
  const metadata: Record<string, string> = {};
  const given = details["metadata"];
  if (given !== null && typeof given === "object") {
    for (const [key, value] of Object.entries(given)) if (typeof value === "string") metadata[key] = value;
  }
  return { reason, domain, metadata };
}

/**
 * The rich details a StatusError earns on the wire, from its `details` (which are otherwise for
 * the logs only): RESOURCE_EXHAUSTED with a finite `retryAfterMs` (rateLimit's) carries
 * google.rpc.RetryInfo; INVALID_ARGUMENT with a `field` (KeyValue's) carries google.rpc.BadRequest
 * naming it, with the error's message as the description; an exposed error with a `reason`
 * carries google.rpc.ErrorInfo. Nothing else of `details` is sent.
 */
function richDetailsOf(error: StatusError): RichDetails | undefined {
  const details = error.details;
  if (details === undefined) return undefined;
  let retryDelayMs: number | undefined;
  let fieldViolations: FieldViolation[] | undefined;
  if (error.code === Status.RESOURCE_EXHAUSTED) {
    const ms = details["retryAfterMs"];
    if (typeof ms === "number" && Number.isFinite(ms) && ms >= 0) retryDelayMs = ms;
  } else if (error.code === Status.INVALID_ARGUMENT) {
    const field = details["field"];
    if (typeof field === "string") fieldViolations = [{ field, description: error.message }];
  }
  const errorInfo = errorInfoOf(error, details);
  if (retryDelayMs === undefined && fieldViolations === undefined && errorInfo === undefined) return undefined;
  return { retryDelayMs, fieldViolations, errorInfo };
}

/**
 * The status grpc-js sends for `error`: its code; its message unless it is a server fault
 * (INTERNAL, UNKNOWN, DATA_LOSS answer with the bare status name: the detail is in the log);
 * `trailers` plus, for an error with rich details, `grpc-status-details-bin` (a google.rpc.Status)
 * and, with a retry delay, gRFC A6's `grpc-retry-pushback-ms`.
 */
export function statusOf(error: StatusError, trailers: GrpcMetadata | undefined): WireStatus {
  const code = statusCode[error.code];
  const details = error.expose ? error.message : error.code;
  const rich = richDetailsOf(error);
  if (rich === undefined) return trailers === undefined ? { code, details } : { code, details, metadata: trailers };
  const metadata = trailers ?? new GrpcMetadata();
  metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails(code, details, rich));
  if (rich.retryDelayMs !== undefined) metadata.set(PUSHBACK_KEY, String(Math.max(0, Math.ceil(rich.retryDelayMs))));
  return { code, details, metadata };
}

/**
 * The status of a finished call when it is not OK: the error that ended it, or, for a status
 * set without one (KeyValue's NOT_FOUND), that status with its name as the message. A non-OK
 * status carries no response message on gRPC.
 */
export function failureOf(ctx: GrpcCallContext): WireStatus | undefined {
  if (ctx.failure !== undefined) return statusOf(ctx.failure.error, ctx.trailersIfAny);
  if (ctx.status === Status.OK) return undefined;
  // No error to build (its stack trace is the dearest part of a NOT_FOUND): a status and its name.
  const trailers = ctx.trailersIfAny;
  const code = statusCode[ctx.status];
  return trailers === undefined ? { code, details: ctx.status } : { code, details: ctx.status, metadata: trailers };
}
