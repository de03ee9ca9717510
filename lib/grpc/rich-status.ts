import protobuf from "protobufjs";
import { PROTO_DIR } from "./proto-files.js";

// Field names as in the .proto (retry_delay, field_violations), as the other ends spell them.
const root = new protobuf.Root().loadSync([`${PROTO_DIR}google/rpc/status.proto`, `${PROTO_DIR}google/rpc/error_details.proto`], { keepCase: true });
const StatusMessage = root.lookupType("google.rpc.Status");
const RetryInfo = root.lookupType("google.rpc.RetryInfo");
const BadRequest = root.lookupType("google.rpc.BadRequest");
const ErrorInfoMessage = root.lookupType("google.rpc.ErrorInfo");
const TYPE_URL = "type.googleapis.com/";
const RETRY_INFO_URL = `${TYPE_URL}google.rpc.RetryInfo`;
const BAD_REQUEST_URL = `${TYPE_URL}google.rpc.BadRequest`;
const ERROR_INFO_URL = `${TYPE_URL}google.rpc.ErrorInfo`;

/** The trailer that carries a google.rpc.Status with the error's details (gRPC's rich error model). */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
/** The trailer of gRFC A6: ms the client should wait before retrying; negative means "do not retry". */
export const PUSHBACK_KEY = "grpc-retry-pushback-ms";

/** One violation of google.rpc.BadRequest: the request field, and what is wrong with it. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/** google.rpc.ErrorInfo: why the call failed, as a constant a program can branch on. */
export interface ErrorInfo {
  /** UPPER_SNAKE_CASE, at most 63 characters: "INSUFFICIENT_SCOPE". */
  readonly reason: string;
  /** Who defines `reason`: "rpc-interceptors.authorize". */
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The details this project puts into, and reads out of, a google.rpc.Status. */
export interface RichDetails {
  /** google.rpc.RetryInfo's retry_delay, in ms. */
  readonly retryDelayMs?: number | undefined;
  /** google.rpc.BadRequest's field_violations. */
  readonly fieldViolations?: readonly FieldViolation[] | undefined;
  /** google.rpc.ErrorInfo. */
  readonly errorInfo?: ErrorInfo | undefined;
}

/**
 * A google.rpc.Status, encoded: the status code and message (the same as the call's
 * `grpc-status` and `grpc-message`) and the details as `google.protobuf.Any`s.
 *
 * @example
 *   encodeStatusDetails(8, "rate limit exceeded", { retryDelayMs: 120 }); // RetryInfo{retry_delay: 0.12s}
 */
export function encodeStatusDetails(code: number, message: string, details: RichDetails): Buffer {
  const any: { type_url: string; value: Uint8Array }[] = [];
  if (details.retryDelayMs !== undefined) {
    const ms = Math.max(0, Math.ceil(details.retryDelayMs));
    const retryDelay = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
    any.push({ type_url: RETRY_INFO_URL, value: RetryInfo.encode(RetryInfo.fromObject({ retry_delay: retryDelay })).finish() });
  }
  if (details.fieldViolations !== undefined) {
    const value = BadRequest.encode(BadRequest.fromObject({ field_violations: details.fieldViolations })).finish();
    any.push({ type_url: BAD_REQUEST_URL, value });
  }
  if (details.errorInfo !== undefined) {
    any.push({ type_url: ERROR_INFO_URL, value: ErrorInfoMessage.encode(ErrorInfoMessage.fromObject(details.errorInfo)).finish() });
  }
  return Buffer.from(StatusMessage.encode(StatusMessage.fromObject({ code, message, details: any })).finish());
}

/** The decoded form of a `grpc-status-details-bin` value. */
export interface DecodedStatus extends RichDetails {
  readonly code: number;
  readonly message: string;
}

/**
 * Reads a `grpc-status-details-bin` value; the details it does not know are skipped. Undefined
 * when the bytes are not a google.rpc.Status.
 */
export function decodeStatusDetails(bytes: Uint8Array): DecodedStatus | undefined {
  let status: { code?: number; message?: string; details?: { type_url?: string; value?: Uint8Array }[] };
  try {
    status = StatusMessage.toObject(StatusMessage.decode(bytes), { defaults: true }) as typeof status;
  } catch {
    return undefined;
  }
  let retryDelayMs: number | undefined;
  let fieldViolations: FieldViolation[] | undefined;
  let errorInfo: ErrorInfo | undefined;
  for (const detail of status.details ?? []) {
    try {
      if (detail.type_url === RETRY_INFO_URL && detail.value !== undefined) {
        const info = RetryInfo.toObject(RetryInfo.decode(detail.value), { longs: Number, defaults: true }) as { retry_delay?: { seconds: number; nanos: number } };
        if (info.retry_delay !== undefined) retryDelayMs = info.retry_delay.seconds * 1000 + info.retry_delay.nanos / 1_000_000;
      } else if (detail.type_url === BAD_REQUEST_URL && detail.value !== undefined) {
        const bad = BadRequest.toObject(BadRequest.decode(detail.value), { defaults: true }) as { field_violations: FieldViolation[] };
        fieldViolations = bad.field_violations.map(({ field, description }) => ({ field, description }));
      } else if (detail.type_url === ERROR_INFO_URL && detail.value !== undefined) {
        const info = ErrorInfoMessage.toObject(ErrorInfoMessage.decode(detail.value), { defaults: true }) as ErrorInfo;
        errorInfo = { reason: info.reason, domain: info.domain, metadata: { ...info.metadata } };
      }
    } catch {
      // A detail that does not decode is one the caller cannot use; the others still count.
    }
  }
  return { code: status.code ?? 0, message: status.message ?? "", retryDelayMs, fieldViolations, errorInfo };
}
