import { expect } from "chai";
import { RateLimiterRes } from "rate-limiter-flexible";
import { TokenBucket, type TokenBucketOptions } from "../../lib/limiters/token-bucket.js";

/** A clock the spec moves by hand, in milliseconds. */
class FakeClock {
  ms = 0;
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

function bucket(options: Omit<TokenBucketOptions, "now"> = {}): { limiter: TokenBucket; clock: FakeClock } {
  const clock = new FakeClock();
  return { limiter: new TokenBucket({ ...options, now: clock.now }), clock };
}

/** The RateLimiterRes a consume() rejected with; fails the spec when it resolved. */
async function rejection(limiter: TokenBucket, key: string, points = 1): Promise<RateLimiterRes> {
  try {
    await limiter.consume(key, points);
  } catch (error) {
    expect(error).to.be.instanceOf(RateLimiterRes);
    return error as RateLimiterRes;
  }
  throw new Error(`consume(${key}, ${points}) was expected to reject`);
}

/** How many single points `key` can take right now (without moving the clock). */
async function drain(limiter: TokenBucket, key: string): Promise<number> {
  let taken = 0;
  for (;;) {
    try {
      await limiter.consume(key);
      taken++;
    } catch {
      return taken;
    }
    if (taken > 10_000) throw new Error("the bucket never ran dry");
  }
}

describe("TokenBucket.consume()", () => {
  it("lets a burst of `capacity` through, then rejects with a RateLimiterRes saying when the next token comes", async () => {
    const { limiter } = bucket({ capacity: 10, refillPerSecond: 10 });
    const answers: RateLimiterRes[] = [];
    for (let i = 0; i < 10; i++) answers.push(await limiter.consume("c1"));
    expect(answers.map((a) => a.remainingPoints)).to.deep.equal([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(answers.map((a) => a.consumedPoints)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(answers[0]?.isFirstInDuration).to.equal(true);
    expect(answers[1]?.isFirstInDuration).to.equal(false);
    expect(answers[9]?.msBeforeNext, "ms until the bucket is full again").to.equal(1000);

    const over = await rejection(limiter, "c1");
    expect(over.remainingPoints).to.equal(0);
    expect(over.msBeforeNext, "one token takes 1/10 s").to.equal(100);
    expect(over.consumedPoints).to.equal(10);
  });

  it("msBeforeNext is not a ms late from float error (0.99 tokens at 10/s said 2 ms, not 1)", async () => {
    const { limiter, clock } = bucket({ capacity: 10, refillPerSecond: 10 });
    await drain(limiter, "c1");
    clock.advance(99);
    expect((await rejection(limiter, "c1")).msBeforeNext).to.equal(1);
    clock.advance(1);
    await limiter.consume("c1");
    clock.advance(37);
    const answer = await limiter.consume("c1", 0);
    expect(answer.msBeforeNext, "ms until full: 9.63 tokens missing at 10/s").to.equal(963);
  });

  it("takes nothing when it rejects: a request for more points than there are leaves the bucket as it was", async () => {
    const { limiter } = bucket({ capacity: 5, refillPerSecond: 1 });
    await limiter.consume("c1", 3);
    const over = await rejection(limiter, "c1", 3);
    expect(over.msBeforeNext, "one more point at 1/s").to.equal(1000);
    expect(await drain(limiter, "c1")).to.equal(2);
  });

  it("refills continuously: exactly one token after 1/refillPerSecond seconds, not before", async () => {
    const { limiter, clock } = bucket({ capacity: 10, refillPerSecond: 10 });
    expect(await drain(limiter, "c1")).to.equal(10);
    clock.advance(99);
    expect(await drain(limiter, "c1")).to.equal(0);
    clock.advance(1);
    expect(await drain(limiter, "c1")).to.equal(1);
    clock.advance(250);
    expect(await drain(limiter, "c1"), "2.5 tokens: two whole ones").to.equal(2);
    clock.advance(50);
    expect(await drain(limiter, "c1"), "the half left over plus 0.5").to.equal(1);
  });

  it("refills exactly at a rate whose period is not a whole number of ms (11/s: 1000/11 ms is 0.9999999999999999 token)", async () => {
    const { limiter, clock } = bucket({ capacity: 11, refillPerSecond: 11 });
    expect(await drain(limiter, "early")).to.equal(11);
    expect(await drain(limiter, "exact")).to.equal(11);
    clock.ms = 1000 / 11 - 0.001;
    expect(await drain(limiter, "early")).to.equal(0);
    clock.ms = 1000 / 11;
    expect(await drain(limiter, "exact")).to.equal(1);
  });

  it("never holds more than capacity: refill stops at the brim", async () => {
    const { limiter, clock } = bucket({ capacity: 4, refillPerSecond: 100 });
    await limiter.consume("c1");
    clock.advance(30); // 3 left + 3 refilled would be 6
    expect(await drain(limiter, "c1")).to.equal(4);
  });

  it("never holds more than capacity, however long it was idle", async () => {
    const { limiter, clock } = bucket({ capacity: 4, refillPerSecond: 100 });
    await limiter.consume("c1");
    clock.advance(3_600_000);
    expect(await drain(limiter, "c1")).to.equal(4);
  });

  it("never refills when refillPerSecond is 0", async () => {
    const { limiter, clock } = bucket({ capacity: 2, refillPerSecond: 0 });
    expect(await drain(limiter, "c1")).to.equal(2);
    clock.advance(1e9);
    const over = await rejection(limiter, "c1");
    expect(over.msBeforeNext).to.equal(Infinity);
  });

  it("keeps one bucket per key: exhausting one client leaves another untouched", async () => {
    const { limiter } = bucket({ capacity: 3, refillPerSecond: 1 });
    expect(await drain(limiter, "greedy")).to.equal(3);
    expect(await drain(limiter, "polite")).to.equal(3);
    expect(await drain(limiter, 42 as unknown as string), "numeric keys too").to.equal(3);
  });
});

describe("TokenBucket memory", () => {
  // capacity 10 at 10/s: an empty bucket is full again after 1000 ms, the generation period.
  const options = { capacity: 10, refillPerSecond: 10 };

  it("drops buckets idle for two periods (size shrinks)", async () => {
    const { limiter, clock } = bucket(options);
    await limiter.consume("a");
    await limiter.consume("b");
    expect(limiter.size).to.equal(2);
    clock.advance(1000);
    await limiter.consume("c");
    expect(limiter.size, "one period idle: still held").to.equal(3);
    clock.advance(1000);
    await limiter.consume("c");
    expect(limiter.size, "a and b idle for two periods: dropped").to.equal(1);
    expect(await limiter.get("a")).to.equal(null);
  });

  it("drops everything at once after a long quiet spell", async () => {
    const { limiter, clock } = bucket(options);
    for (const key of ["a", "b", "c"]) await limiter.consume(key);
    clock.advance(60_000);
    await limiter.consume("d");
    expect(limiter.size).to.equal(1);
  });

  it("keeps a bucket's level across a rotation: a client cannot reset its bucket by waiting for one", async () => {
    const { limiter, clock } = bucket(options);
    clock.advance(900);
    expect(await drain(limiter, "a")).to.equal(10);
    clock.advance(100);
    await limiter.consume("other"); // t = 1000: the generations rotate
    clock.advance(400);
    expect(await drain(limiter, "a"), "500 ms after running dry: exactly 5 tokens").to.equal(5);
  });

  it("drops only full buckets, so refill stays exact after a drop", async () => {
    const { limiter, clock } = bucket(options);
    clock.advance(999);
    expect(await drain(limiter, "a")).to.equal(10);
    clock.advance(1);
    await limiter.consume("b"); // t = 1000: rotation, a kept in the previous generation
    clock.advance(1000);
    await limiter.consume("c"); // t = 2000: rotation, a (idle 1001 ms, so full) dropped
    expect(limiter.size).to.equal(2);
    expect(await drain(limiter, "a")).to.equal(10);
  });

  it("holds at most 2 x maxKeys buckets however many clients appear", async () => {
    const { limiter } = bucket({ ...options, maxKeys: 5 });
    let largest = 0;
    for (let i = 0; i < 100; i++) {
      await limiter.consume(`client-${i}`);
      largest = Math.max(largest, limiter.size);
    }
    expect(largest).to.be.at.most(10);
    expect(largest).to.be.at.least(5);
  });
});

describe("new TokenBucket()", () => {
  it("defaults to capacity 10 refilled at 10 per second", () => {
    const limiter = new TokenBucket();
    expect(limiter.capacity).to.equal(10);
    expect(limiter.refillPerSecond).to.equal(10);
  });

  for (const [options, message] of [
    [{ capacity: 0 }, /capacity must be a number >= 1, got 0/],
    [{ capacity: Number.NaN }, /capacity/],
    [{ capacity: Infinity }, /capacity/],
    [{ refillPerSecond: -1 }, /refillPerSecond must be a number >= 0, got -1/],
    [{ refillPerSecond: Number.NaN }, /refillPerSecond/],
    [{ maxKeys: 0 }, /maxKeys must be an integer >= 1, got 0/],
    [{ maxKeys: 1.5 }, /maxKeys/],
  ] as const) {
    it(`rejects ${JSON.stringify(options, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v))} with a RangeError naming the option`, () => {
      expect(() => new TokenBucket(options)).to.throw(RangeError, message);
    });
  }
});
