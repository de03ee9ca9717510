import { expect } from "chai";
import { createKoaApp } from "../../examples/koa-app.js";
import { capturedLogger, type Served, serve } from "../support/koa-server.js";

describe("regression: the Koa example answered a malformed percent-escape with 500 and a stack trace", () => {
  let served: Served;
  const errors: unknown[] = [];
  before(async () => {
    const app = createKoaApp({ tokens: ["t"], logger: capturedLogger("info").logger });
    app.silent = true;
    app.on("error", (error: unknown) => errors.push(error));
    served = await serve(app);
  });
  after(() => served.close());

  it("GET /kv/%E0%A4%A is 400 with a message, and no server fault reaches the app's error listener", async () => {
    const res = await fetch(`${served.url}/kv/%E0%A4%A`, { headers: { authorization: "Bearer t" } });
    expect([res.status, await res.text()]).to.deep.equal([400, "the key is not a valid percent-encoded path segment"]);
    expect(errors.filter((error) => (error as { expose?: unknown }).expose !== true)).to.deep.equal([]);
  });
});
