/** Milliseconds per unit of the `grpc-timeout` header: Hours, Minutes, Seconds, milli, micro, nano. */
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * The budget a `grpc-timeout` value gives, in ms (`"250m"` -> 250, `"2S"` -> 2000); undefined when
 * it is not gRPC's format (1 to 8 digits and a unit).
 */
export function parseGrpcTimeout(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}
