import { RateLimiterRes } from "./rate-limiter-flexible.js";

/** What a call asks of its bucket; each is one of RedisTokenBucket's methods. */
export type BucketOp = "consume" | "penalty" | "reward" | "set" | "block" | "get" | "delete";

/** Each op as the one character the script reads. */
const OP_CODE: Readonly<Record<BucketOp, string>> = { consume: "c", penalty: "p", reward: "r", set: "s", block: "b", get: "g", delete: "d" };

/** Integers per key in the script's reply. */
const REPLY_WIDTH = 5;

/** One call of a batch, as the script sees it, and the way to answer its caller. */
export interface ScriptCall {
  readonly op: BucketOp;
  /** The Redis key of the bucket. */
  readonly key: string;
  readonly points: number;
  resolve(value: RateLimiterRes | boolean | null): void;
  reject(reason: unknown): void;
}

/**
 * KEYS then ARGV of one script run over `calls`, as EVALSHA takes them after the number of
 * keys: the calls' keys, then capacity, tokens per ms, the op characters, the points.
 */
export function scriptArguments(calls: readonly ScriptCall[], capacity: string, perMs: string): string[] {
  const n = calls.length;
  const args = new Array<string>(n + 4);
  const ops = new Array<string>(n);
  const points = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const call = calls[i]!;
    args[i] = call.key;
    ops[i] = OP_CODE[call.op];
    points[i] = call.points;
  }
  args[n] = capacity;
  args[n + 1] = perMs;
  args[n + 2] = ops.join("");
  args[n + 3] = points.join(" ");
  return args;
}

/**
 * The integers of the script's reply to a run of `calls` calls, read without a string per
 * number. Only integers are in it; beyond 2^53 they are as exact as a double can be, like any
 * number in JavaScript. Throws when the count is not the script's (another script under its
 * SHA?), so that the batch fails and falls back.
 */
export function replyIntegers(reply: string, calls: number): number[] {
  const numbers: number[] = [];
  const end = reply.length;
  for (let at = 0; at < end; at++) {
    const negative = reply.charCodeAt(at) === 45; // "-"
    if (negative) at++;
    let value = 0;
    for (let c = reply.charCodeAt(at); c >= 48 && c <= 57; c = reply.charCodeAt(++at)) value = value * 10 + (c - 48);
    numbers.push(negative ? -value : value);
  }
  if (numbers.length !== calls * REPLY_WIDTH) throw new Error(`RedisTokenBucket: the script answered ${numbers.length} numbers for ${calls} calls`);
  return numbers;
}

/**
 * Answers `call`, the `index`th of its run, from the integers of the script's reply: resolves
 * with a RateLimiterRes when the points were taken, rejects with one when they were not, null
 * for `get` of no bucket, a boolean for `delete`.
 */
export function answer(call: ScriptCall, reply: readonly number[], index: number): void {
  const at = index * REPLY_WIDTH;
  const taken = reply[at]!;
  if (call.op === "delete") return call.resolve(taken === 1);
  if (taken === -1) return call.resolve(null);
  const msBeforeNext = reply[at + 2]!;
  const res = new RateLimiterRes(reply[at + 1]!, msBeforeNext < 0 ? Infinity : msBeforeNext, reply[at + 3]!, reply[at + 4] === 1);
  if (taken === 1) call.resolve(res);
  else call.reject(res);
}
