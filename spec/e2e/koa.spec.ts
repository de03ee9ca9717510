import { expect } from "chai";
import Koa from "koa";
import { auth, httpStatusOf, logging, rateLimit, type Principal, Status, StatusError, type StatusName, when } from "../../index.js";
import { capturedLogger, type Served, serve } from "../support/koa-server.js";

// The same factories the RPC pipeline uses, in a real Koa 3 app on port 0, over real HTTP.

const TOKEN = "s3cret-token-value";
const bearer = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}` } });

/** logging -> auth -> rateLimit -> a handler that answers with the principal. */
function guardedApp(options: { capacity?: number; refillPerSecond?: number; proxy?: boolean; logger?: ReturnType<typeof capturedLogger>["logger"] } = {}): Koa {
  const app = new Koa({ proxy: options.proxy ?? false });
  app.use(logging({ logger: options.logger ?? capturedLogger("info").logger }));
  app.use(auth({ tokens: new Map([[TOKEN, "ci-bot"]]) }));
  app.use(rateLimit({ capacity: options.capacity ?? 100, refillPerSecond: options.refillPerSecond ?? 100 }));
  app.use(async function whoami(ctx) {
    const principal = ctx.state["principal"] as Principal;
    ctx.body = { subject: principal.subject };
  });
  return app;
}

describe("auth() in a Koa app", () => {
  let served: Served;
  before(async () => {
    served = await serve(guardedApp());
  });
  after(() => served.close());

  it("answers a request without Authorization with 401 and WWW-Authenticate: Bearer", async () => {
    const res = await fetch(served.url);
    expect(res.status).to.equal(401);
    expect(res.headers.get("www-authenticate")).to.equal("Bearer");
    // Auth runs before the limiter, so nothing was counted.
    expect(res.headers.get("ratelimit-remaining")).to.equal(null);
  });

  it("lets a good token through to the handler, with the principal in ctx.state", async () => {
    const res = await fetch(served.url, bearer(TOKEN));
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ subject: "ci-bot" });
  });

  it("answers an unknown token with 401 and an invalid_token challenge", async () => {
    const res = await fetch(served.url, bearer("not-the-token"));
    expect(res.status).to.equal(401);
    expect(res.headers.get("www-authenticate")).to.equal('Bearer error="invalid_token"');
  });

  it("answers another scheme with 401 and a plain Bearer challenge", async () => {
    const res = await fetch(served.url, { headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString("base64")}` } });
    expect(res.status).to.equal(401);
    expect(res.headers.get("www-authenticate")).to.equal("Bearer");
  });

  it("skips the paths publicMethods names, and only those", async () => {
    const app = new Koa();
    app.use(auth({ tokens: [TOKEN], publicMethods: ["health/*"] }));
    app.use(async (ctx) => {
      ctx.body = { principal: ctx.state["principal"] ?? null };
    });
    const open = await serve(app);
    try {
      expect((await fetch(`${open.url}/health`)).status).to.equal(200);
      expect((await fetch(`${open.url}/health/deep`)).status).to.equal(200);
      expect((await fetch(`${open.url}/healthz`)).status).to.equal(401);
      expect((await fetch(`${open.url}/kv/a`)).status).to.equal(401);
    } finally {
      await open.close();
    }
  });
});

describe("rateLimit() in a Koa app", () => {
  it("answers over the limit with 429, Retry-After and the RateLimit headers", async () => {
    const served = await serve(guardedApp({ capacity: 3, refillPerSecond: 1 }));
    try {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await fetch(served.url, bearer(TOKEN)));
      expect(answers.map((res) => res.status)).to.deep.equal([200, 200, 200, 429]);
      expect(answers.map((res) => res.headers.get("ratelimit-remaining"))).to.deep.equal(["2", "1", "0", "0"]);
      const over = answers[3]!;
      expect(over.headers.get("retry-after")).to.equal("1"); // 1 token at 1/s: under a second, rounded up
      expect(over.headers.get("ratelimit-limit")).to.equal("3");
      expect(over.headers.get("ratelimit-reset")).to.equal("1");
      expect(over.headers.get("ratelimit-policy")).to.equal("3;w=3");
      expect(answers[0]!.headers.get("retry-after")).to.equal(null);
      expect(answers[0]!.headers.get("ratelimit-limit")).to.equal("3");
    } finally {
      await served.close();
    }
  });

  it("counts per ctx.ip, so X-Forwarded-For counts only when Koa's app.proxy is on", async () => {
    const spoofed = (address: string): RequestInit => ({ headers: { authorization: `Bearer ${TOKEN}`, "x-forwarded-for": address } });
    for (const proxy of [false, true]) {
      const served = await serve(guardedApp({ capacity: 1, refillPerSecond: 0.001, proxy }));
      try {
        const first = await fetch(served.url, spoofed("203.0.113.1"));
        const second = await fetch(served.url, spoofed("203.0.113.2"));
        expect([first.status, second.status], `proxy: ${proxy}`).to.deep.equal(proxy ? [200, 200] : [200, 429]);
      } finally {
        await served.close();
      }
    }
  });
});

describe("logging() in a Koa app", () => {
  it("writes one line per request with method, path, client, status and duration, never the token", async () => {
    const capture = capturedLogger("debug");
    const served = await serve(guardedApp({ logger: capture.logger }));
    try {
      await fetch(`${served.url}/one`, bearer(TOKEN));
      await fetch(`${served.url}/two`, bearer("wrong-token-value"));
      await fetch(`${served.url}/three`);
    } finally {
      await served.close();
    }
    const requests = capture.records().filter((record) => record["msg"] === "request");
    expect(requests.map((r) => [r["method"], r["path"], r["status"]])).to.deep.equal([
      ["GET", "/one", 200],
      ["GET", "/two", 401],
      ["GET", "/three", 401],
    ]);
    for (const record of requests) {
      expect(record["client"]).to.be.a("string").and.not.equal("");
      expect(record["ms"]).to.be.a("number").and.at.least(0);
      // At debug level the headers are there, with the credential redacted.
      expect(record["headers"]).to.have.property("host");
    }
    expect((requests[0]!["headers"] as Record<string, string>)["authorization"]).to.equal("[REDACTED]");
    const everything = capture.lines.join("\n");
    expect(everything).to.not.include(TOKEN);
    expect(everything).to.not.include("wrong-token-value");
  });
});

describe("StatusError in a Koa app", () => {
  const cases: [StatusName, number][] = [
    [Status.INVALID_ARGUMENT, 400],
    [Status.UNAUTHENTICATED, 401],
    [Status.PERMISSION_DENIED, 403],
    [Status.NOT_FOUND, 404],
    [Status.ALREADY_EXISTS, 409],
    [Status.RESOURCE_EXHAUSTED, 429],
    [Status.UNIMPLEMENTED, 501],
    [Status.UNAVAILABLE, 503],
    [Status.DEADLINE_EXCEEDED, 504],
  ];
  let served: Served;
  const errors: unknown[] = [];
  before(async () => {
    const app = new Koa();
    app.on("error", (error: unknown) => errors.push(error)); // instead of Koa's stderr dump
    app.use(async (ctx) => {
      const code = ctx.path.slice(1) as StatusName;
      throw new StatusError(code, `the ${code} message`);
    });
    served = await serve(app);
  });
  after(() => served.close());

  for (const [code, http] of cases) {
    it(`answers ${code} with ${http} and its message`, async () => {
      const res = await fetch(`${served.url}/${code}`);
      expect(res.status).to.equal(http);
      expect(await res.text()).to.equal(`the ${code} message`);
    });
  }

  it("answers CANCELLED with 500: its mapped 499 is a status Koa does not know", async () => {
    expect(new StatusError(Status.CANCELLED).statusCode).to.equal(499);
    expect(httpStatusOf(new StatusError(Status.CANCELLED))).to.equal(500);
    expect((await fetch(`${served.url}/${Status.CANCELLED}`)).status).to.equal(500);
  });

  it("answers INTERNAL with 500 and keeps its message out of the response", async () => {
    errors.length = 0;
    const res = await fetch(`${served.url}/${Status.INTERNAL}`);
    expect(res.status).to.equal(500);
    expect(await res.text()).to.equal("Internal Server Error");
    expect(errors).to.have.length(1);
  });
});

describe("when() in a Koa app", () => {
  it("selects by path as /Service/Method", async () => {
    const app = new Koa();
    app.use(when("kv/*", rateLimit({ capacity: 1, refillPerSecond: 0.001 })));
    app.use(async (ctx) => {
      ctx.body = "ok";
    });
    const served = await serve(app);
    try {
      const statuses = [];
      for (const path of ["/kv/a", "/kv/b", "/other", "/other"]) statuses.push((await fetch(served.url + path)).status);
      expect(statuses).to.deep.equal([200, 429, 200, 200]);
    } finally {
      await served.close();
    }
  });
});
