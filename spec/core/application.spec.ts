import { expect } from "chai";
import { Application, runFrame } from "../../lib/core/application.js";
import { CallFrame } from "../../lib/core/frame.js";
import { CallContext, HANDLER } from "../../lib/core/context.js";
import type { Middleware, Next } from "../../lib/core/middleware.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";

interface ErrorReport {
  readonly error: unknown;
  readonly at: string;
}

/** An application whose server faults are collected instead of printed. */
function application(): { app: Application; errors: ErrorReport[] } {
  const errors: ErrorReport[] = [];
  const app = new Application({ onError: (error, _ctx, at) => void errors.push({ error, at }) });
  return { app, errors };
}

function newCall(): CallContext {
  return new CallContext({ service: "Svc", method: "Do", request: {}, peer: "c1" });
}

/** A named middleware that only records when it runs. */
function tracer(name: string, events: string[]): Middleware {
  const fn = async (_ctx: CallContext, next: Next): Promise<void> => {
    events.push(`${name}:before`);
    await next();
    events.push(`${name}:after`);
  };
  Object.defineProperty(fn, "name", { value: name });
  return fn;
}

async function passThrough(_ctx: CallContext, next: Next): Promise<void> {
  await next();
}

describe("Application.use()", () => {
  it("runs middleware in use() order, outermost first: before next() in order, after it in reverse", async () => {
    const events: string[] = [];
    const { app } = application();
    app.use(tracer("a", events)).use(tracer("b", events)).use(tracer("c", events)).handle(() => void events.push("handler"));
    const ctx = newCall();
    const frame = await runFrame(app, new CallFrame(ctx));
    expect(events).to.deep.equal(["a:before", "b:before", "c:before", "handler", "c:after", "b:after", "a:after"]);
    expect(ctx.applied).to.deep.equal(["a", "b", "c"]);
    expect(frame.handled).to.equal(true);
    expect(app.middleware).to.deep.equal(["a", "b", "c"]);
  });

  it("names a middleware by its function name, or by { name } when given", async () => {
    const { app } = application();
    app.use(passThrough).use(passThrough, { name: "again" });
    const ctx = newCall();
    await app.run(ctx);
    expect(ctx.applied).to.deep.equal(["passThrough", "again"]);
  });

  it("rejects a middleware without a name at once, not on the first call", () => {
    const { app } = application();
    expect(() => app.use(async (_ctx, next) => next())).to.throw(TypeError, /needs a name/);
    expect(app.middleware).to.deep.equal([]);
  });

  it("rejects what is not a function", () => {
    const { app } = application();
    expect(() => app.use("logging" as unknown as Middleware)).to.throw(TypeError, /must be a function/);
  });
});

describe("Application.run()", () => {
  it("never rejects, and answers UNIMPLEMENTED when no handler was set", async () => {
    const { app } = application();
    const ctx = newCall();
    await app.run(ctx);
    expect(ctx.status).to.equal(Status.UNIMPLEMENTED);
    expect(ctx.failure?.at).to.equal(HANDLER);
  });

  it("keeps a status the handler sets without throwing, with no failure (a NOT_FOUND with a response)", async () => {
    const { app } = application();
    app.use(passThrough).handle((ctx) => {
      ctx.status = Status.NOT_FOUND;
      ctx.response = { found: false };
    });
    const ctx = newCall();
    await app.run(ctx);
    expect(ctx.status).to.equal(Status.NOT_FOUND);
    expect(ctx.response).to.deep.equal({ found: false });
    expect(ctx.failure).to.equal(undefined);
    expect(ctx.interceptorFailed).to.equal(undefined);
  });

  describe("short-circuit", () => {
    it("by throwing a StatusError: later middleware and the handler do not run, the thrower is blamed", async () => {
      const events: string[] = [];
      const { app, errors } = application();
      app
        .use(tracer("outer", events))
        .use(async function gate() {
          throw new StatusError(Status.PERMISSION_DENIED, "no");
        })
        .use(tracer("inner", events))
        .handle(() => void events.push("handler"));
      const ctx = newCall();
      const frame = await runFrame(app, new CallFrame(ctx));
      expect(events).to.deep.equal(["outer:before"]);
      expect(ctx.status).to.equal(Status.PERMISSION_DENIED);
      expect(ctx.interceptorFailed).to.equal("gate");
      expect(ctx.failure?.threw).to.equal(true);
      expect(ctx.applied).to.deep.equal(["outer", "gate"]);
      expect(frame.handled).to.equal(false);
      expect(errors, "an exposed status is not a server fault").to.deep.equal([]);
    });

    it("by ctx.throw(), which throws a StatusError", async () => {
      const { app } = application();
      app.use(async function gate(ctx) {
        ctx.throw(Status.UNAUTHENTICATED, "who are you");
      });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.UNAUTHENTICATED);
      expect(ctx.failure?.error.message).to.equal("who are you");
      expect(ctx.interceptorFailed).to.equal("gate");
    });

    it("by setting ctx.status without calling next(): the middleware is blamed, nothing after it runs", async () => {
      const events: string[] = [];
      const { app } = application();
      app
        .use(tracer("outer", events))
        .use(async function quota(ctx) {
          ctx.status = Status.RESOURCE_EXHAUSTED;
        })
        .use(tracer("inner", events))
        .handle(() => void events.push("handler"));
      const ctx = newCall();
      await app.run(ctx);
      expect(events).to.deep.equal(["outer:before", "outer:after"]);
      expect(ctx.status).to.equal(Status.RESOURCE_EXHAUSTED);
      expect(ctx.interceptorFailed).to.equal("quota");
      expect(ctx.failure?.threw).to.equal(false);
      expect(ctx.applied).to.deep.equal(["outer", "quota"]);
    });

    it("without next() and with status OK is an answer, not a failure (a cache hit)", async () => {
      const { app } = application();
      app
        .use(async function cache(ctx) {
          ctx.response = { cached: true };
        })
        .handle(() => {
          throw new Error("not reached");
        });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.OK);
      expect(ctx.failure).to.equal(undefined);
      expect(ctx.response).to.deep.equal({ cached: true });
    });
  });

  describe("failure attribution", () => {
    it("blames a throwing handler on the handler, never on the last middleware", async () => {
      const { app, errors } = application();
      const boom = new Error("boom");
      app.use(passThrough, { name: "logging" }).use(passThrough, { name: "auth" }).use(passThrough, { name: "rate_limit" }).handle(() => {
        throw boom;
      });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.INTERNAL);
      expect(ctx.interceptorFailed).to.equal(undefined);
      expect(ctx.failure?.at).to.equal(HANDLER);
      expect(ctx.failure?.thrown).to.equal(boom);
      expect(ctx.applied).to.deep.equal(["logging", "auth", "rate_limit"]);
      expect(errors).to.deep.equal([{ error: boom, at: HANDLER }]);
    });

    it("blames an async handler that rejects the same way", async () => {
      const { app, errors } = application();
      app.use(passThrough, { name: "rate_limit" }).handle(async () => {
        await Promise.resolve();
        throw new TypeError("undefined is not a function");
      });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.INTERNAL);
      expect(ctx.interceptorFailed).to.equal(undefined);
      expect(errors.map((e) => e.at)).to.deep.equal([HANDLER]);
    });

    it("keeps the blame where the error was thrown when it passes through middleware unchanged", async () => {
      const { app, errors } = application();
      const denied = new StatusError(Status.PERMISSION_DENIED, "denied");
      const seen: string[] = [];
      app
        .use(async function outer(_ctx, next) {
          try {
            await next();
          } finally {
            seen.push("outer finally");
          }
        })
        .use(async function middle(_ctx, next) {
          try {
            await next();
          } catch (error) {
            seen.push("middle rethrows");
            throw error;
          }
        })
        .use(async function thrower() {
          throw denied;
        });
      const ctx = newCall();
      await app.run(ctx);
      expect(seen).to.deep.equal(["middle rethrows", "outer finally"]);
      expect(ctx.interceptorFailed).to.equal("thrower");
      expect(ctx.failure?.thrown).to.equal(denied);
      expect(errors).to.deep.equal([]);
    });

    it("keeps a handler's error on the handler when a middleware rethrows it unchanged", async () => {
      const { app, errors } = application();
      const boom = new Error("boom");
      app
        .use(async function rethrower(_ctx, next) {
          try {
            await next();
          } catch (error) {
            throw error;
          }
        })
        .handle(() => {
          throw boom;
        });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.failure?.at).to.equal(HANDLER);
      expect(ctx.interceptorFailed).to.equal(undefined);
      expect(errors).to.have.length(1);
    });

    it("blames a middleware that catches an error and throws a different one", async () => {
      const { app, errors } = application();
      const original = new Error("db down");
      const replacement = new StatusError(Status.UNAVAILABLE, "try later");
      app
        .use(passThrough, { name: "outer" })
        .use(async function translate(_ctx, next) {
          try {
            await next();
          } catch {
            throw replacement;
          }
        })
        .handle(() => {
          throw original;
        });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.UNAVAILABLE);
      expect(ctx.interceptorFailed).to.equal("translate");
      expect(ctx.failure?.thrown).to.equal(replacement);
      expect(errors, "the handler's fault was reported when it happened").to.deep.equal([{ error: original, at: HANDLER }]);
    });

    it("clears the failure when a middleware swallows a downstream error", async () => {
      const { app } = application();
      app
        .use(passThrough, { name: "outer" })
        .use(async function fallback(ctx, next) {
          try {
            await next();
          } catch {
            ctx.status = Status.OK;
            ctx.response = { fallback: true };
          }
        })
        .use(async function flaky() {
          throw new StatusError(Status.UNAVAILABLE, "flaky");
        });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.failure).to.equal(undefined);
      expect(ctx.interceptorFailed).to.equal(undefined);
      expect(ctx.status).to.equal(Status.OK);
      expect(ctx.response).to.deep.equal({ fallback: true });
    });

    it("blames a middleware that calls next() twice, with INTERNAL", async () => {
      const { app, errors } = application();
      let handled = 0;
      app
        .use(passThrough, { name: "outer" })
        .use(async function twice(_ctx, next) {
          await next();
          await next();
        })
        .handle(() => void handled++);
      const ctx = newCall();
      await app.run(ctx);
      expect(handled).to.equal(1);
      expect(ctx.status).to.equal(Status.INTERNAL);
      expect(ctx.interceptorFailed).to.equal("twice");
      expect(errors).to.have.length(1);
      expect(errors[0]?.at).to.equal("twice");
      expect(String(errors[0]?.error)).to.match(/next\(\) called multiple times/);
    });

    it("reports a server fault to onError once, and an exposed status not at all", async () => {
      const { app, errors } = application();
      let fail: () => never = () => {
        throw new Error("fault");
      };
      app.use(passThrough, { name: "a" }).use(passThrough, { name: "b" }).handle(() => fail());
      await app.run(newCall());
      expect(errors).to.have.length(1);
      fail = () => {
        throw new StatusError(Status.NOT_FOUND, "nope");
      };
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.NOT_FOUND);
      expect(errors).to.have.length(1);
    });
  });
});

describe("Application: middleware that tail-call next() (return next())", () => {
  const tail = (name: string): Middleware => Object.defineProperty((_ctx: CallContext, next: Next) => next(), "name", { value: name });
  const later = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

  it("over a downstream that is still running: blame stays where the error was thrown, run() resolves", async () => {
    const { app, errors } = application();
    app.use(tracer("outer", [])).use(tail("t1")).use(tail("t2")).handle(async () => {
      await later();
      throw new StatusError(Status.NOT_FOUND, "gone");
    });
    const ctx = newCall();
    const frame = await runFrame(app, new CallFrame(ctx));
    expect(ctx.status).to.equal(Status.NOT_FOUND);
    expect(ctx.failure?.at).to.equal(HANDLER);
    expect(ctx.applied).to.deep.equal(["outer", "t1", "t2"]);
    expect(frame.open, "every layer has left").to.equal(0);
    expect(errors).to.deep.equal([]);
  });

  it("as the first layer, over a downstream that fails later: run() still never rejects", async () => {
    const { app } = application();
    app.use(tail("t1")).use(tail("t2")).handle(async () => {
      await later();
      throw new Error("bug");
    });
    const ctx = newCall();
    const frame = await runFrame(app, new CallFrame(ctx));
    expect(ctx.status).to.equal(Status.INTERNAL);
    expect(ctx.failure?.at).to.equal(HANDLER);
    expect(frame.open).to.equal(0);
  });

  it("under a middleware that returned early: that one is still caught, once its downstream (tail layers included) is done", async () => {
    const { app, errors } = application();
    const early = Object.defineProperty((_ctx: CallContext, next: Next) => void next(), "name", { value: "early" }) as Middleware;
    let handlerDone = false;
    app.use(early).use(tail("t1")).handle(async () => {
      await later();
      handlerDone = true;
    });
    const ctx = newCall();
    const frame = await runFrame(app, new CallFrame(ctx));
    expect(handlerDone, "the reply waits for the downstream").to.equal(true);
    expect(ctx.status).to.equal(Status.INTERNAL);
    expect(ctx.failure?.at).to.equal("early");
    expect(errors.map((e) => e.at)).to.deep.equal(["early"]);
    expect(frame.open).to.equal(0);
  });
});
