import { execFileSync } from "node:child_process";
import { Prng } from "./prng.js";

/**
 * JSON number tokens in the forms a client may send as a msg_id, and what Python prints for
 * each: `json.dumps(json.loads(token))`, asked of python3 itself at test time.
 */

/** The forms that came back as other text, and their neighbours. */
export const MSG_ID_TOKENS: readonly string[] = [
  "1.0", "-0.0", "-0", "0", "0.0", "0e0", "1e16", "1e21", "1e22", "1E5", "1e+2", "10E-1", "0.1e1", "2.50",
  "9007199254740992", "9007199254740993", "-9007199254740993", "18446744073709551616", "123456789012345678901234567890",
  "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308", "0.1", "1e-7", "0.0001", "0.00001", "123.456e-2",
  "1234567890123456789.0", "100000000000000000000.0", "-1.5e-10", "7", "-7", "42",
];

/**
 * `count` number tokens from `seed`: integers short and long, floats in point and exponent
 * forms; only finite ones (Python reads 1e400 as inf, a msg_id no reply carries).
 */
export function randomNumberTokens(seed: number, count: number): string[] {
  const r = new Prng(seed);
  const digits = (n: number): string => Array.from({ length: n }, (_, i) => String(i === 0 ? 1 + r.int(9) : r.int(10))).join("");
  const sign = (): string => (r.chance(0.3) ? "-" : "");
  const tokens: string[] = [];
  while (tokens.length < count) {
    const int = r.chance(0.1) ? "0" : digits(1 + r.int(r.chance(0.2) ? 40 : 17));
    switch (r.int(5)) {
      case 0:
        tokens.push(sign() + int);
        break;
      case 1:
        tokens.push(`${sign()}${int}.${r.chance(0.3) ? "0" : String(r.int(10 ** (1 + r.int(8))))}`);
        break;
      case 2:
        tokens.push(`${sign()}${int}${r.pick(["e", "E"])}${r.pick(["", "+", "-"])}${r.int(330)}`);
        break;
      case 3:
        tokens.push(`${sign()}${int}.${String(r.int(1000))}${r.pick(["e", "E"])}${r.pick(["", "+", "-"])}${r.int(25)}`);
        break;
      default:
        tokens.push(String(r.chance(0.5) ? r.next() * 10 ** (r.int(40) - 20) : -r.next() * 2 ** (r.int(120) - 60)));
    }
    if (!Number.isFinite(Number(tokens[tokens.length - 1]))) tokens.pop();
  }
  return tokens;
}

const SCRIPT = "import json, sys\nfor token in sys.stdin.read().split():\n    print(json.dumps(json.loads(token)))\n";

/** Whether python3 runs here; undefined when it does, else why not. */
export function pythonMissing(): string | undefined {
  try {
    execFileSync("python3", ["-c", "pass"], { stdio: "ignore" });
    return undefined;
  } catch (error) {
    return `python3 cannot run: ${(error as Error).message}`;
  }
}

/** Skips the spec when python3 is missing, unless CI=true (then fails it). */
export function requirePython(ctx: Mocha.Context): void {
  const missing = pythonMissing();
  if (missing === undefined) return;
  if (process.env["CI"] === "true") throw new Error(missing);
  process.stdout.write(`      (skipped: ${missing})\n`);
  ctx.skip();
}

/** What Python's json.dumps prints for each token as json.loads reads it, in one python3 run. */
export function pythonPrints(tokens: readonly string[]): string[] {
  const out = execFileSync("python3", ["-c", SCRIPT], { input: tokens.join("\n"), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const lines = out.split("\n").slice(0, -1);
  if (lines.length !== tokens.length) throw new Error(`python3 printed ${lines.length} lines for ${tokens.length} tokens`);
  return lines;
}
