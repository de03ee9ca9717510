import { expect } from "chai";
import {
  Application,
  auth,
  CallContext,
  createLogger,
  defineService,
  keyValueService,
  logging,
  type Middleware,
  type Next,
  rateLimit,
  router,
  Status,
  StatusError,
  unless,
  when,
} from "../../index.js";

const { logger } = createLogger({ level: "silent" });

/** A middleware that records that it ran, then goes on. */
function mark(name: string): Middleware {
  const fn = async (_ctx: CallContext, next: Next): Promise<void> => next();
  Object.defineProperty(fn, "name", { value: name });
  return fn;
}

async function call(app: Application, service: string, method: string, metadata: object = {}): Promise<CallContext> {
  const ctx = new CallContext({ service, method, request: { key: "k", value: "v" }, metadata, peer: "c1" });
  await app.run(ctx);
  return ctx;
}

const health = defineService("Health", { Check: () => ({ status: "SERVING" }) });

describe("when(selector, middleware)", () => {
  it("runs the middleware for the methods selected, in its place in the chain", async () => {
    const app = new Application().use(mark("a")).use(when("KeyValue/Put", mark("b"))).use(mark("c")).handle(router([keyValueService()]));
    expect((await call(app, "KeyValue", "Put")).applied).to.deep.equal(["a", "b", "c"]);
    expect((await call(app, "KeyValue", "Get")).applied).to.deep.equal(["a", "c"]);
  });

  it("leaves a skipped middleware out of ctx.applied, and lets it neither fail the call nor add state", async () => {
    const deny = async function deny(ctx: CallContext<{ seen?: true }>): Promise<void> {
      ctx.state.seen = true;
      throw new StatusError(Status.PERMISSION_DENIED, "no");
    };
    const app = new Application().use(when("Admin/*", deny)).handle(router([keyValueService()]));
    const skipped = await call(app, "KeyValue", "Put");
    expect([skipped.status, skipped.applied, skipped.interceptorFailed, skipped.state]).to.deep.equal([Status.OK, [], undefined, {}]);
    const applied = await call(app, "Admin", "Reset");
    expect([applied.status, applied.applied, applied.interceptorFailed]).to.deep.equal([Status.PERMISSION_DENIED, ["deny"], "deny"]);
  });

  it("matches Service/Method, Service/*, * and lists of them", async () => {
    const cases: [Parameters<typeof when>[0], string, string, boolean][] = [
      ["KeyValue/Get", "KeyValue", "Get", true],
      ["KeyValue/Get", "KeyValue", "Put", false],
      ["KeyValue/Get", "KeyValueX", "Get", false],
      ["KeyValue/*", "KeyValue", "Delete", true],
      ["KeyValue/*", "Health", "Check", false],
      ["*", "Anything", "At-all", true],
      [["Health/Check", "KeyValue/Put"], "KeyValue", "Put", true],
      [["Health/Check", "KeyValue/Put"], "KeyValue", "Get", false],
      [(m) => m.method.startsWith("P"), "KeyValue", "Put", true],
      [(m) => m.method.startsWith("P"), "KeyValue", "Get", false],
    ];
    for (const [selector, service, method, selected] of cases) {
      const app = new Application().use(when(selector, mark("m")));
      expect(app.chain(service, method), `${JSON.stringify(selector)} for ${service}/${method}`).to.deep.equal(selected ? ["m"] : []);
      expect((await call(app, service, method)).applied).to.deep.equal(selected ? ["m"] : []);
    }
  });

  it("throws at once on a selector that is not a pattern", () => {
    for (const bad of ["KeyValue", "/Get", "KeyValue/", "", [], [42]]) {
      expect(() => when(bad as string, mark("m")), JSON.stringify(bad)).to.throw(TypeError, /when\(\)/);
    }
    expect(() => auth({ tokens: ["t"], publicMethods: "Health" })).to.throw(TypeError, /auth\(\): publicMethods/);
  });

  it("keeps the middleware's name, or the name use() is given", () => {
    const app = new Application().use(when("A/*", rateLimit())).use(when("A/*", mark("x")), { name: "renamed" });
    expect(app.middleware).to.deep.equal(["rate_limit", "renamed"]);
  });

  it("nests: when(a, when(b, m)) runs m where both select", async () => {
    const app = new Application().use(when("KeyValue/*", unless("KeyValue/Get", mark("m"))));
    expect([app.chain("KeyValue", "Put"), app.chain("KeyValue", "Get"), app.chain("Health", "Check")]).to.deep.equal([["m"], [], []]);
    expect((await call(app, "KeyValue", "Get")).applied).to.deep.equal([]);
  });

  it("selects by itself where no Application unwraps it (a plain koa-compose chain)", async () => {
    const selected = when("KeyValue/Put", async function tag(ctx: CallContext<{ tagged?: true }>, next: Next) {
      ctx.state.tagged = true;
      await next();
    });
    const next = async (): Promise<void> => {};
    const put = new CallContext<{ tagged?: true }>({ service: "KeyValue", method: "Put", request: {}, peer: "c1" });
    const get = new CallContext<{ tagged?: true }>({ service: "KeyValue", method: "Get", request: {}, peer: "c1" });
    await selected(put, next);
    await selected(get, next);
    expect([put.state.tagged, get.state.tagged]).to.deep.equal([true, undefined]);
  });
});

describe("unless(selector, middleware)", () => {
  it("runs the middleware for every method but those selected", async () => {
    const app = new Application().use(unless(["Health/*"], mark("m"))).handle(router([keyValueService(), health]));
    expect((await call(app, "Health", "Check")).applied).to.deep.equal([]);
    expect((await call(app, "KeyValue", "Get")).applied).to.deep.equal(["m"]);
  });
});

describe("auth({ publicMethods })", () => {
  const app = new Application()
    .use(logging({ logger }))
    .use(auth({ tokens: ["valid_token"], publicMethods: ["Health/Check"] }))
    .use(rateLimit())
    .handle(router([keyValueService(), health]));

  it("lets a public method through without a token, auth left out of interceptors_applied", async () => {
    const ctx = await call(app, "Health", "Check");
    expect([ctx.status, ctx.applied, ctx.response]).to.deep.equal([Status.OK, ["logging", "rate_limit"], { status: "SERVING" }]);
    expect(ctx.state).to.not.have.property("principal");
  });

  it("still asks every other method for a token", async () => {
    expect((await call(app, "KeyValue", "Get")).interceptorFailed).to.equal("auth");
    const ctx = await call(app, "KeyValue", "Get", { authorization: "Bearer valid_token" });
    expect([ctx.status, ctx.applied]).to.deep.equal([Status.NOT_FOUND, ["logging", "auth", "rate_limit"]]);
  });
});

describe("Application.chain(service, method) and describe()", () => {
  const app = new Application()
    .use(logging({ logger }))
    .use(auth({ tokens: ["t"], publicMethods: "Health/*" }))
    .use(when(["KeyValue/Put", "KeyValue/Delete"], mark("audit")))
    .use(rateLimit())
    .handle(router([keyValueService(), health]));

  it("resolves the chain of a method, outermost first", () => {
    expect(app.chain("KeyValue", "Put")).to.deep.equal(["logging", "auth", "audit", "rate_limit"]);
    expect(app.chain("KeyValue", "Get")).to.deep.equal(["logging", "auth", "rate_limit"]);
    expect(app.chain("Health", "Check")).to.deep.equal(["logging", "rate_limit"]);
  });

  it("agrees with what a call enters", async () => {
    for (const [service, method] of [["KeyValue", "Put"], ["KeyValue", "Get"], ["Health", "Check"]] as const) {
      const ctx = await call(app, service, method, { authorization: "Bearer t" });
      expect(ctx.applied, `${service}/${method}`).to.deep.equal(app.chain(service, method));
    }
  });

  it("prints the middleware with their selections, then the chain of each method of the router", () => {
    expect(app.describe()).to.equal(
      [
        "middleware, outermost first:",
        "  logging",
        "  auth        unless Health/*",
        "  audit       when KeyValue/Put, KeyValue/Delete",
        "  rate_limit",
        "chain per method:",
        "  KeyValue/Get      logging -> auth -> rate_limit -> handler",
        "  KeyValue/Put      logging -> auth -> audit -> rate_limit -> handler",
        "  KeyValue/Delete   logging -> auth -> audit -> rate_limit -> handler",
        "  KeyValue/Scan     logging -> auth -> rate_limit -> handler",
        "  KeyValue/Watch    logging -> auth -> rate_limit -> handler",
        "  KeyValue/PutMany  logging -> auth -> rate_limit -> handler",
        "  KeyValue/Batch    logging -> auth -> rate_limit -> handler",
        "  Health/Check      logging -> rate_limit -> handler",
        "",
      ].join("\n"),
    );
  });

  it("prints the methods it is given", () => {
    expect(app.describe(["Other/Thing"]).split("\n").slice(-3)).to.deep.equal(["chain per method:", "  Other/Thing  logging -> auth -> rate_limit -> handler", ""]);
  });
});
