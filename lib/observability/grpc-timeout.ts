/** Milliseconds per unit of gRPC's `grpc-timeout` (H hours, M minutes, S seconds, m, u, n). */
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * The budget a `grpc-timeout` value gives, in ms: at most 8 digits and a unit (`"100m"`,
 * `"2S"`), as the gRPC over HTTP/2 spec writes it. Undefined for a missing or malformed value:
 * observers do not judge the call; refusing a malformed one is the host's job.
 *
 * @example
 *   parseGrpcTimeout("742m"); // 742
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}
