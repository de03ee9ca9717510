import { expect } from "chai";
import { bucketSettings } from "../../lib/limiters/bucket-options.js";
import { RedisTokenBucket } from "../../lib/limiters/redis-token-bucket.js";
import { TokenBucket } from "../../lib/limiters/token-bucket.js";

/** Enough of an ioredis client for RedisTokenBucket's constructor, which checks it first. */
const fakeClient = () => ({ evalsha() {}, on() {}, status: "wait" }) as unknown as ConstructorParameters<typeof RedisTokenBucket>[0]["client"];

describe("bucketSettings(owner, options)", () => {
  it("applies the defaults: capacity 10, refillPerSecond 10", () => {
    expect(bucketSettings("X", {})).to.deep.equal({ capacity: 10, refillPerSecond: 10 });
    expect(bucketSettings("X", { capacity: 1, refillPerSecond: 0 })).to.deep.equal({ capacity: 1, refillPerSecond: 0 });
  });

  for (const bad of [{ capacity: 0 }, { capacity: Number.NaN }, { refillPerSecond: -1 }, { refillPerSecond: Infinity }]) {
    it(`refuses ${JSON.stringify(bad)} (or NaN/Infinity) the same way in TokenBucket and RedisTokenBucket`, () => {
      const [option] = Object.keys(bad);
      expect(() => new TokenBucket(bad)).to.throw(RangeError, new RegExp(`^TokenBucket: ${option} must be`));
      expect(() => new RedisTokenBucket({ client: fakeClient(), ...bad })).to.throw(RangeError, new RegExp(`^RedisTokenBucket: ${option} must be`));
    });
  }
});
