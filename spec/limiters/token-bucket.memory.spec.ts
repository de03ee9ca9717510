import { expect } from "chai";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { TokenBucket } from "../../lib/limiters/token-bucket.js";
import { rateLimit } from "../../middleware/rate-limit.js";

// Memory of the rate limiter under a flood of distinct clients, at the unit level:
// the fast counterpart of bench/memory-distinct-clients.ts, which runs a million calls through
// the real bin/node and watches its RSS.

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Heap in use after a full collection, in MiB. */
function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

describe("TokenBucket memory under a flood of distinct clients", function () {
  this.timeout(30_000);

  it("holds at most 2 x maxKeys buckets and a flat heap over 1,000,000 distinct keys in no time (the default maxKeys, 100,000)", async () => {
    // The clock stands still: no bucket is ever idle long enough to drop, only maxKeys bounds them.
    const limiter = new TokenBucket({ capacity: 10, refillPerSecond: 10, now: () => 0 });
    let largest = 0;
    let plateau = 0;
    for (let i = 0; i < 1_000_000; i++) {
      await limiter.consume(`client-${i}`);
      if (i % 10_000 === 0) largest = Math.max(largest, limiter.size);
      if (i === 399_999) plateau = heapMiB(); // the same phase of the generations as the end
    }
    const end = heapMiB();
    process.stdout.write(`      (buckets at most ${largest}; heap ${plateau.toFixed(1)} MiB after 400,000 keys, ${end.toFixed(1)} MiB after 1,000,000)\n`);
    expect(largest).to.be.at.most(200_000);
    expect(limiter.size, "held at the end (and the limiter kept alive through the heap measure)").to.be.at.most(200_000);
    expect(end - plateau, "heap growth from 400,000 to 1,000,000 keys, MiB").to.be.below(4);
  });

  it("through rateLimit() in an Application: 200,000 calls from 200,000 peers keep at most 2 x maxKeys buckets", async () => {
    const limiter = new TokenBucket({ capacity: 10, refillPerSecond: 10, maxKeys: 1000 });
    const app = new Application().use(rateLimit({ limiter })).handle(() => {});
    let largest = 0;
    for (let i = 0; i < 200_000; i++) {
      const ctx = new CallContext({ service: "S", method: "M", request: {}, peer: `peer-${i}` });
      await app.run(ctx);
      expect(ctx.status).to.equal("OK");
      largest = Math.max(largest, limiter.size);
    }
    expect(largest).to.equal(2000);
  });
});
