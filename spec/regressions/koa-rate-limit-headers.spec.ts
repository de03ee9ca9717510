import { expect } from "chai";
import Koa from "koa";
import { rateLimit } from "../../middleware/rate-limit.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { serve } from "../support/koa-server.js";

// Koa's ctx.onerror removes every header set before the error and sends only the error's own
// `headers`: an admitted request whose handler threw was answered without its RateLimit-*
// headers, so a client could not see its remaining budget on failed requests.

/** A Koa app whose handler fails with `error` after rateLimit() has admitted the request. */
function failingApp(error: () => unknown): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(rateLimit({ capacity: 5, refillPerSecond: 1 }));
  app.use(() => {
    throw error();
  });
  return app;
}

describe("regression: rateLimit() in Koa keeps the RateLimit headers of an admitted request whose handler throws", () => {
  it("on a StatusError with headers of its own, both sets are sent", async () => {
    const served = await serve(failingApp(() => new StatusError(Status.NOT_FOUND, "no such key", { headers: { "X-Reason": "missing" } })));
    try {
      const answer = await fetch(`${served.url}/kv/a`);
      expect(answer.status).to.equal(404);
      expect(answer.headers.get("ratelimit-remaining")).to.equal("4");
      expect(answer.headers.get("ratelimit-limit")).to.equal("5");
      expect(answer.headers.get("ratelimit-policy")).to.equal("5;w=5");
      expect(answer.headers.get("x-reason")).to.equal("missing");
    } finally {
      await served.close();
    }
  });

  it("on a plain Error (answered 500)", async () => {
    const served = await serve(failingApp(() => new Error("bug")));
    try {
      const answers = [await fetch(served.url), await fetch(served.url)];
      expect(answers.map((answer) => answer.status)).to.deep.equal([500, 500]);
      expect(answers.map((answer) => answer.headers.get("ratelimit-remaining"))).to.deep.equal(["4", "3"]);
    } finally {
      await served.close();
    }
  });
});
