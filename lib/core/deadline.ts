import type { Metadata } from "./metadata.js";
import { Status } from "./status.js";
import { StatusError } from "./status-error.js";

/** The metadata key that carries a call's deadline, as a budget from the moment it arrived. */
export const TIMEOUT_KEY = "grpc-timeout";

/** Milliseconds per gRPC timeout unit: Hours, Minutes, Seconds, milliseconds, microseconds, nanoseconds. */
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };

/** gRPC's TimeoutValue: 1 to 8 ASCII digits; then one TimeoutUnit. */
const TIMEOUT = /^([0-9]{1,8})([HMSmun])$/;

/**
 * The budget of a `grpc-timeout` value in milliseconds (gRPC's HTTP/2 protocol: `100m` is
 * 100 ms, `2S` two seconds, `1H` an hour, `500u` 0.5 ms). Anything else, spaces and signs
 * included, is INVALID_ARGUMENT.
 *
 * @example
 *   parseTimeout("250m"); // 250
 */
export function parseTimeout(text: string): number {
  const ms = budgetOf(text);
  if (ms === undefined) throw new StatusError(Status.INVALID_ARGUMENT, `malformed ${TIMEOUT_KEY}: ${JSON.stringify(text.slice(0, 32))}`);
  return ms;
}

/**
 * The budget of a `grpc-timeout` value in ms, or undefined when it is absent or malformed: for
 * those who read a deadline without judging the call (`propagate()`, a client transport reading
 * what its caller set); a server refuses a malformed one in {@link timeoutOf}.
 *
 * @example
 *   budgetOf("742m"); // 742
 *   budgetOf("1s");   // undefined (the unit is S)
 */
export function budgetOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = TIMEOUT.exec(text);
  return match === null ? undefined : Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/**
 * The call's budget from its metadata, in ms; undefined when it has no `grpc-timeout`. The one
 * place a server reads the deadline: {@link Application.run} calls it before any middleware,
 * so a malformed value ends the call with INVALID_ARGUMENT having run none of them.
 */
export function timeoutOf(metadata: Metadata): number | undefined {
  const text = metadata.get(TIMEOUT_KEY);
  return text === undefined ? undefined : parseTimeout(text);
}
