import { Status, statusCode, type StatusName } from "../core/status.js";

const NAMES: readonly StatusName[] = (Object.keys(statusCode) as StatusName[]).sort((a, b) => statusCode[a] - statusCode[b]);

/**
 * The status name of a numeric gRPC code (`5` -> "NOT_FOUND"); a code outside 0..16 is UNKNOWN,
 * as gRPC's own clients read one.
 */
export function statusNameOf(code: number): StatusName {
  return (Number.isInteger(code) ? NAMES[code] : undefined) ?? Status.UNKNOWN;
}
