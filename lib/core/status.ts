/**
 * gRPC status codes by name, the form they take on the wire (`"status": "NOT_FOUND"`).
 *
 * @example
 *   if (ctx.status === Status.OK) metrics.ok++;
 */
export const Status = {
  OK: "OK",
  CANCELLED: "CANCELLED",
  UNKNOWN: "UNKNOWN",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  NOT_FOUND: "NOT_FOUND",
  ALREADY_EXISTS: "ALREADY_EXISTS",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
  FAILED_PRECONDITION: "FAILED_PRECONDITION",
  ABORTED: "ABORTED",
  OUT_OF_RANGE: "OUT_OF_RANGE",
  UNIMPLEMENTED: "UNIMPLEMENTED",
  INTERNAL: "INTERNAL",
  UNAVAILABLE: "UNAVAILABLE",
  DATA_LOSS: "DATA_LOSS",
  UNAUTHENTICATED: "UNAUTHENTICATED",
} as const;

/** One of the sixteen gRPC status names, plus OK. */
export type StatusName = (typeof Status)[keyof typeof Status];

/** The numeric gRPC code of each status (`statusCode.NOT_FOUND === 5`). */
export const statusCode: Readonly<Record<StatusName, number>> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5,
  ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9,
  ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14,
  DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/**
 * The HTTP status for each gRPC status, as google.rpc.Code documents it; used when the same
 * middleware runs in an HTTP host such as Koa.
 */
export const httpStatus: Readonly<Record<StatusName, number>> = {
  OK: 200, CANCELLED: 499, UNKNOWN: 500, INVALID_ARGUMENT: 400, DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404, ALREADY_EXISTS: 409, PERMISSION_DENIED: 403, RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400, ABORTED: 409, OUT_OF_RANGE: 400, UNIMPLEMENTED: 501,
  INTERNAL: 500, UNAVAILABLE: 503, DATA_LOSS: 500, UNAUTHENTICATED: 401,
};

/** Statuses whose message describes a server fault: logged with details, never sent. */
const SERVER_FAULTS: ReadonlySet<StatusName> = new Set<StatusName>([Status.UNKNOWN, Status.INTERNAL, Status.DATA_LOSS]);

/** True for UNKNOWN, INTERNAL and DATA_LOSS: their details belong in the logs only. */
export function isServerFault(status: StatusName): boolean {
  return SERVER_FAULTS.has(status);
}

/** True when `value` is one of the status names. */
export function isStatusName(value: unknown): value is StatusName {
  return typeof value === "string" && Object.hasOwn(statusCode, value);
}
