import { Status, type StatusName } from "../core/status.js";

/**
 * Each status as grpc-go's `codes.Code.String()` spells it: the `grpc_code` label of
 * go-grpc-prometheus, so dashboards made for Go services read these metrics unchanged.
 */
export const goCodeName: Readonly<Record<StatusName, string>> = {
  OK: "OK", CANCELLED: "Canceled", UNKNOWN: "Unknown", INVALID_ARGUMENT: "InvalidArgument",
  DEADLINE_EXCEEDED: "DeadlineExceeded", NOT_FOUND: "NotFound", ALREADY_EXISTS: "AlreadyExists",
  PERMISSION_DENIED: "PermissionDenied", RESOURCE_EXHAUSTED: "ResourceExhausted",
  FAILED_PRECONDITION: "FailedPrecondition", ABORTED: "Aborted", OUT_OF_RANGE: "OutOfRange",
  UNIMPLEMENTED: "Unimplemented", INTERNAL: "Internal", UNAVAILABLE: "Unavailable",
  DATA_LOSS: "DataLoss", UNAUTHENTICATED: "Unauthenticated",
};

/** HTTP statuses that name one gRPC status (the google.rpc.Code mapping read backwards). */
const BY_HTTP: ReadonlyMap<number, StatusName> = new Map<number, StatusName>([
  [400, Status.INVALID_ARGUMENT], [401, Status.UNAUTHENTICATED], [403, Status.PERMISSION_DENIED],
  [404, Status.NOT_FOUND], [409, Status.ABORTED], [429, Status.RESOURCE_EXHAUSTED], [499, Status.CANCELLED],
  [501, Status.UNIMPLEMENTED], [503, Status.UNAVAILABLE], [504, Status.DEADLINE_EXCEEDED],
]);

/**
 * The gRPC status an HTTP host's answer stands for, so a Koa request is counted and traced in
 * the same terms as an RPC call: below 400 OK, the statuses of the google.rpc.Code mapping
 * back to their code (409 as ABORTED), any other 4xx FAILED_PRECONDITION, any other 5xx INTERNAL.
 */
export function statusOfHttp(status: number): StatusName {
  if (status < 400) return Status.OK;
  return BY_HTTP.get(status) ?? (status < 500 ? Status.FAILED_PRECONDITION : Status.INTERNAL);
}
