import { expect } from "chai";
import Koa from "koa";
import {
  Application,
  auth,
  type AuthState,
  CallContext,
  createLogger,
  defineService,
  logging,
  type KoaContext,
  type Middleware,
  type Next,
  type PortableMiddleware,
  type Principal,
  rateLimit,
  router,
  when,
} from "../../index.js";

// A type-level spec. `npm test` compiles it with tsc before mocha runs: each `@ts-expect-error`
// must meet a type error on the line after it, or the build fails; the lines without one must
// compile. The `it`s run the compiling lines, to show that what the types promise holds.

const { logger } = createLogger({ level: "silent" });
const tokens = ["valid_token"];
const token = { authorization: "Bearer valid_token" };

/** A middleware that needs the principal and adds a tenant. */
const tenant: Middleware<{ principal: Principal }, { tenant: string }> = async function tenant(ctx, next) {
  ctx.state.tenant = ctx.state.principal.subject.split("#")[0] ?? "";
  await next();
};

/** A service whose method reads the principal. */
const whoami = defineService<AuthState>("Who", { AmI: (_request, ctx) => ({ subject: ctx.state.principal.subject }) });

async function run(app: Application, service = "Any", method = "Thing"): Promise<CallContext> {
  const ctx = new CallContext({ service, method, request: {}, metadata: token, peer: "c1" });
  await app.run(ctx);
  return ctx;
}

describe("typed state: Application.use() widens ctx.state by what a middleware adds", () => {
  it("after use(auth(...)), a handler reads ctx.state.principal without a cast", async () => {
    const app = new Application()
      .use(logging({ logger }))
      .use(auth({ tokens }))
      .use(rateLimit())
      .handle((ctx) => {
        const subject: string = ctx.state.principal.subject;
        const remaining: number = ctx.state.rateLimit.remainingPoints;
        ctx.response = { subject, remaining };
      });
    expect((await run(app)).response).to.deep.equal({ subject: "token#1", remaining: 9 });
  });

  it("in a chain without auth, reading ctx.state.principal does not compile", () => {
    new Application().use(logging({ logger })).use(rateLimit()).handle((ctx) => {
      // @ts-expect-error no middleware in this chain adds the principal
      ctx.response = ctx.state.principal.subject;
    });
  });

  it("a service that reads the principal is served only after auth", async () => {
    const app = new Application().use(auth({ tokens })).handle(router([whoami]));
    expect((await run(app, "Who", "AmI")).response).to.deep.equal({ subject: "token#1" });
    // @ts-expect-error the router needs AuthState, which a chain without auth does not have
    new Application().use(rateLimit()).handle(router([whoami]));
  });

  it("a middleware that needs the principal goes after auth, not before", async () => {
    const app = new Application().use(auth({ tokens })).use(tenant).handle((ctx) => {
      ctx.response = ctx.state.tenant satisfies string;
    });
    expect((await run(app)).response).to.equal("token");
    // @ts-expect-error tenant needs the principal, and nothing before it adds one
    new Application().use(tenant);
  });

  it("what a selected middleware adds is optional: it may have been skipped", async () => {
    const app = new Application().use(auth({ tokens, publicMethods: "Health/*" })).handle((ctx) => {
      ctx.response = ctx.state.principal?.subject ?? "anonymous";
    });
    expect((await run(app, "Health", "Check")).response).to.equal("anonymous");
    // (The handlers below are never run: they only have to fail to compile.)
    new Application().use(auth({ tokens, publicMethods: "Health/*" })).handle((ctx) => {
      // @ts-expect-error a public method runs without auth, so without a principal
      ctx.response = ctx.state.principal.subject;
    });
    new Application().use(when("KeyValue/*", auth({ tokens }))).handle((ctx) => {
      // @ts-expect-error when() may skip auth
      ctx.response = ctx.state.principal.subject;
    });
  });

  it("the portable middleware take a Koa context; an RPC-only one does not", () => {
    const app = new Koa();
    app.use(logging({ logger })).use(auth({ tokens, publicMethods: ["health/*"] })).use(rateLimit()).use(when("kv/*", rateLimit()));
    expect(app.middleware).to.have.length(4);
    const portable: (ctx: KoaContext, next: Next) => Promise<void> = auth({ tokens });
    // @ts-expect-error tenant reads a CallContext, which a Koa context is not
    const rpcOnly: (ctx: KoaContext, next: Next) => unknown = tenant;
    expect([portable, rpcOnly]).to.have.length(2);
    // (Koa's own app.use() would accept tenant: its types infer a context extension from it.)
  });

  it("new Koa().use(portable) is still typed Koa, and a portable middleware's Needs are checked", () => {
    const koa: Koa = new Koa().use(auth({ tokens })).use(rateLimit()).use(when("kv/*", logging({ logger })));
    const needsPrincipal: PortableMiddleware<{ principal: Principal }> = async function needs_principal(_ctx, next) {
      await next();
    };
    new Application().use(auth({ tokens })).use(needsPrincipal);
    // @ts-expect-error needs_principal needs the principal, and nothing before it adds one
    new Application().use(needsPrincipal);
    expect(koa.middleware).to.have.length(3);
  });
});
