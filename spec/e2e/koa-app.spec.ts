import { expect } from "chai";
import { createKoaApp } from "../../examples/koa-app.js";
import { capturedLogger, type Served, serve } from "../support/koa-server.js";

// examples/koa-app.ts does what its header says.

describe("examples/koa-app: createKoaApp()", () => {
  const token = { authorization: "Bearer example-token" };
  let served: Served;
  before(async () => {
    served = await serve(createKoaApp({ tokens: ["example-token"], capacity: 6, refillPerSecond: 0.001, logger: capturedLogger("info").logger }));
  });
  after(() => served.close());

  it("serves /health without a token, and nothing else", async () => {
    expect((await fetch(`${served.url}/health`)).status).to.equal(200);
    const res = await fetch(`${served.url}/kv/greeting`);
    expect([res.status, res.headers.get("www-authenticate")]).to.deep.equal([401, "Bearer"]);
  });

  it("stores and reads a key with a token; a missing key is 404 through the StatusError mapping", async () => {
    expect((await fetch(`${served.url}/kv/missing`, { headers: token })).status).to.equal(404);
    const put = await fetch(`${served.url}/kv/greeting`, { method: "PUT", headers: token, body: "hello" });
    expect([put.status, await put.json()]).to.deep.equal([200, { written: true }]);
    const get = await fetch(`${served.url}/kv/greeting`, { headers: token });
    expect([get.status, await get.json()]).to.deep.equal([200, { key: "greeting", value: "hello" }]);
    expect(await (await fetch(`${served.url}/whoami`, { headers: token })).json()).to.deep.equal({ subject: "token#1" });
  });

  it("limits each client to 6: five spent above (the 401 spent none), the 7th request is 429", async () => {
    const sixth = await fetch(`${served.url}/whoami`, { headers: token });
    expect([sixth.status, sixth.headers.get("ratelimit-remaining")]).to.deep.equal([200, "0"]);
    const seventh = await fetch(`${served.url}/whoami`, { headers: token });
    expect(seventh.status).to.equal(429);
    expect(Number(seventh.headers.get("retry-after"))).to.be.greaterThan(0);
  });
});
