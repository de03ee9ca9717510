import { expect } from "chai";
import fc from "fast-check";
import { TokenBucket } from "../../lib/limiters/token-bucket.js";

/**
 * The token bucket's promise, checked on any sequence of consumes and clock steps: in any
 * interval a key is never admitted more than `capacity + elapsed x refillPerSecond` points, and
 * a key idle long enough to fill up gets its full burst. Three configurations: ordinary ones;
 * generations a few ms long, so that idle buckets are dropped and generations rotate all the
 * time; and a maxKeys so small that buckets are forgotten early.
 */

type Op = { readonly kind: "consume"; readonly key: number; readonly points: number } | { readonly kind: "step"; readonly ms: number };

interface Config {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly maxKeys: number;
  readonly keys: number;
  readonly ops: readonly Op[];
}

interface Attempt {
  readonly at: number;
  readonly key: number;
  readonly points: number;
  readonly admitted: boolean;
  /** Whether maxKeys other keys were asked for since this key's last attempt (it may have been forgotten). */
  readonly mayBeForgotten: boolean;
}

/** Runs the ops on a TokenBucket over a fake clock; checks memory after every step. */
async function run(config: Config): Promise<Attempt[]> {
  let now = 0;
  const limiter = new TokenBucket({ capacity: config.capacity, refillPerSecond: config.refillPerSecond, maxKeys: config.maxKeys, now: () => now });
  const attempts: Attempt[] = [];
  const othersSince = new Map<number, Set<number>>();
  for (const op of config.ops) {
    if (op.kind === "step") {
      now += op.ms;
      continue;
    }
    const others = othersSince.get(op.key);
    const mayBeForgotten = others !== undefined && others.size >= config.maxKeys;
    for (const [key, set] of othersSince) if (key !== op.key) set.add(op.key);
    othersSince.set(op.key, new Set());
    const admitted = await limiter.consume(`client-${op.key}`, op.points).then(
      () => true,
      () => false,
    );
    attempts.push({ at: now, key: op.key, points: op.points, admitted, mayBeForgotten });
    expect(limiter.size, "buckets held").to.be.at.most(2 * config.maxKeys);
  }
  return attempts;
}

/**
 * Fails when some key was admitted more than capacity + elapsed x rate points in an interval
 * (bounded by two of its attempts, or starting at time 0). A key that may have been forgotten
 * starts afresh, full, at that attempt: the documented price of maxKeys.
 */
function checkUpperBound(config: Config, attempts: readonly Attempt[]): void {
  const perMs = config.refillPerSecond / 1000;
  for (let key = 0; key < config.keys; key++) {
    // The key's attempts cut where it may have been forgotten; each piece starts with a full bucket.
    const segments: Attempt[][] = [];
    for (const a of attempts) {
      if (a.key !== key) continue;
      if (segments.length === 0 || a.mayBeForgotten) segments.push([]);
      segments.at(-1)?.push(a);
    }
    segments.forEach((segment, i) => {
      const admitted = segment.filter((a) => a.admitted);
      const starts = [i === 0 ? 0 : (segment[0]?.at ?? 0), ...admitted.map((a) => a.at)];
      for (const start of starts) {
        let sum = 0;
        for (const a of admitted) {
          if (a.at < start) continue;
          sum += a.points;
          const bound = config.capacity + (a.at - start) * perMs;
          if (sum > bound + 1e-6) {
            throw new Error(`key ${key}: ${sum} points admitted in [${start}, ${a.at}] ms, more than ${config.capacity} + ${a.at - start} ms x ${config.refillPerSecond}/s = ${bound}`);
          }
        }
      }
    });
  }
}

/** Fails when a key idle long enough to fill up was refused points it asked for within capacity. */
function checkFullAfterIdle(config: Config, attempts: readonly Attempt[]): void {
  if (config.refillPerSecond === 0) return;
  const fillMs = (config.capacity / config.refillPerSecond) * 1000;
  const last = new Map<number, number>();
  for (const a of attempts) {
    const previous = last.get(a.key);
    if ((previous === undefined || a.at - previous >= fillMs * 1.000001 + 1e-6) && a.points <= config.capacity) {
      expect(a.admitted, `key ${a.key} idle ${previous === undefined ? "since ever" : `${a.at - previous} ms`} (fills in ${fillMs} ms) was refused ${a.points}`).to.equal(true);
    }
    last.set(a.key, a.at);
  }
}

// Whole and fractional ms, many of them small: the interesting moments are just before and just
// after a token arrives or a generation rotates.
const stepMs = (max: number) =>
  fc.oneof(fc.integer({ min: 0, max }), fc.double({ min: 0, max, noNaN: true }), fc.double({ min: 0, max: max / 20, noNaN: true }), fc.integer({ min: 0, max: Math.ceil(max / 20) }));

function ops(keys: number, maxStepMs: number): fc.Arbitrary<Op[]> {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("consume" as const), key: fc.integer({ min: 0, max: keys - 1 }), points: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("step" as const), ms: stepMs(maxStepMs) }) },
  );
  return fc.array(op, { maxLength: 150 });
}

const ordinary = fc.record({
  capacity: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.double({ min: 1, max: 20, noNaN: true })),
  refillPerSecond: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 50, noNaN: true })),
  maxKeys: fc.constant(100_000),
  keys: fc.constant(3),
}).chain((c) => ops(c.keys, 1500).map((o) => ({ ...c, ops: o })));

// Generations of 0.5 to 30 ms against steps of up to 60 ms: idle buckets are dropped and the
// generations rotate (on time, never on maxKeys: there are no more keys than maxKeys) all the time.
const rotating = fc.record({
  capacity: fc.integer({ min: 1, max: 3 }),
  refillPerSecond: fc.integer({ min: 100, max: 2000 }),
  maxKeys: fc.constant(6),
  keys: fc.integer({ min: 1, max: 6 }),
}).chain((c) => ops(c.keys, 60).map((o) => ({ ...c, ops: o })));

// More keys than maxKeys: generations rotate early and forget buckets.
const crowded = fc.record({
  capacity: fc.integer({ min: 1, max: 5 }),
  refillPerSecond: fc.integer({ min: 1, max: 100 }),
  maxKeys: fc.integer({ min: 1, max: 3 }),
  keys: fc.integer({ min: 2, max: 10 }),
}).chain((c) => ops(c.keys, 100).map((o) => ({ ...c, ops: o })));

describe("TokenBucket.consume() (properties)", () => {
  for (const [name, configs] of [
    ["any capacity and rate", ordinary],
    ["generations a few ms long (idle buckets dropped, rotation on every step)", rotating],
  ] as const) {
    it(`never admits more than capacity + elapsed x refillPerSecond in any interval: ${name}`, async () => {
      await fc.assert(
        fc.asyncProperty(configs, async (config) => {
          checkUpperBound(config, await run(config));
        }),
        { numRuns: 3000 },
      );
    });

    it(`gives a key idle long enough to fill up its whole burst: ${name}`, async () => {
      await fc.assert(
        fc.asyncProperty(configs, async (config) => {
          checkFullAfterIdle(config, await run(config));
        }),
        { numRuns: 3000 },
      );
    });
  }

  it("keeps the bound, and at most 2 x maxKeys buckets, when more keys than maxKeys come: only a key maxKeys others came after may start afresh", async () => {
    await fc.assert(
      fc.asyncProperty(crowded, async (config) => {
        const attempts = await run(config);
        checkUpperBound(config, attempts);
        checkFullAfterIdle(config, attempts);
      }),
      { numRuns: 3000 },
    );
  });
});
