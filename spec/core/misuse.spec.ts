import { expect } from "chai";
import { Application, runFrame } from "../../lib/core/application.js";
import { CallFrame } from "../../lib/core/frame.js";
import { CallContext, HANDLER } from "../../lib/core/context.js";
import type { Next } from "../../lib/core/middleware.js";
import { StdioHost } from "../../lib/hosts/stdio/stdio-host.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { logging } from "../../middleware/logging.js";
import { captureLogger } from "../support/log-capture.js";

interface Report {
  readonly error: unknown;
  readonly at: string;
}

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An application whose faults are collected; fails the spec on any unhandled rejection meanwhile. */
function application(): { app: Application; reports: Report[] } {
  const reports: Report[] = [];
  return { app: new Application({ onError: (error, _ctx, at) => void reports.push({ error, at }) }), reports };
}

function newCall(): CallContext {
  return new CallContext({ service: "Svc", method: "Do", request: {}, peer: "c1" });
}

async function passThrough(_ctx: CallContext, next: Next): Promise<void> {
  await next();
}

/** Forgot the await: starts the rest of the pipeline and returns at once. */
async function sloppy(_ctx: CallContext, next: Next): Promise<void> {
  void next();
}

/** Collects unhandled rejections while a spec runs (mocha would report them only as a crash). */
function watchUnhandled(): { readonly rejections: unknown[]; stop(): void } {
  const rejections: unknown[] = [];
  const listener = (reason: unknown): void => void rejections.push(reason);
  process.on("unhandledRejection", listener);
  return { rejections, stop: () => process.removeListener("unhandledRejection", listener) };
}

describe("Application.run() with a middleware that misuses next()", () => {
  let unhandled: ReturnType<typeof watchUnhandled>;
  beforeEach(() => (unhandled = watchUnhandled()));
  afterEach(async () => {
    await tick(5); // an unhandled rejection is reported after the microtasks of its turn
    unhandled.stop();
    expect(unhandled.rejections, "unhandled rejections").to.deep.equal([]);
  });

  describe("returning without awaiting next()", () => {
    it("fails the call with INTERNAL blamed on that middleware, reported once, naming it", async () => {
      const { app, reports } = application();
      app.use(passThrough, { name: "outer" }).use(sloppy).handle(async (ctx) => {
        await tick(2);
        ctx.response = { late: true };
      });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.INTERNAL);
      expect(ctx.interceptorFailed).to.equal("sloppy");
      expect(reports).to.have.length(1);
      expect(reports[0]?.at).to.equal("sloppy");
      expect(String(reports[0]?.error)).to.match(/middleware sloppy returned before .* must await next\(\)/);
    });

    it("does not end the call before the abandoned downstream has finished, and keeps INTERNAL over what it did late", async () => {
      const { app } = application();
      let handlerDone = false;
      app.use(sloppy).handle(async (ctx) => {
        await tick(10);
        ctx.status = Status.OK;
        ctx.response = { late: true };
        ctx.failure = undefined;
        handlerDone = true;
      });
      const ctx = newCall();
      const frame = await runFrame(app, new CallFrame(ctx));
      expect(handlerDone, "run() resolved before the downstream finished").to.equal(true);
      expect(ctx.status).to.equal(Status.INTERNAL);
      expect(ctx.interceptorFailed).to.equal("sloppy");
      expect(frame.open).to.equal(0);
    });

    it("absorbs a late rejection of the abandoned downstream (no unhandled rejection, no crash)", async () => {
      const { app, reports } = application();
      app.use(sloppy).use(passThrough, { name: "inner" }).handle(async () => {
        await tick(2);
        throw new StatusError(Status.INVALID_ARGUMENT, "late");
      });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.INTERNAL);
      expect(ctx.interceptorFailed).to.equal("sloppy");
      expect(reports.map((r) => r.at)).to.deep.equal(["sloppy"]);
    });

    it("catches a downstream that fails at once, before the middleware's return was seen", async () => {
      const { app, reports } = application();
      app.use(passThrough, { name: "outer" }).use(sloppy).use(async function gate() {
        throw new StatusError(Status.UNAUTHENTICATED, "no");
      });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.INTERNAL);
      expect(ctx.interceptorFailed).to.equal("sloppy");
      expect(reports.map((r) => r.at)).to.deep.equal(["sloppy"]);
    });

    it("blames each of two nested middleware that forgot, and ends the call INTERNAL from the outer one", async () => {
      const { app, reports } = application();
      app.use(sloppy, { name: "outer" }).use(sloppy, { name: "inner" }).handle(async () => {
        await tick(2);
      });
      const ctx = newCall();
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.INTERNAL);
      expect(ctx.interceptorFailed).to.equal("outer");
      expect(reports.map((r) => r.at).sort()).to.deep.equal(["inner", "outer"]);
    });

    it("is caught whatever NODE_ENV says (no development-only check)", async () => {
      const saved = process.env["NODE_ENV"];
      process.env["NODE_ENV"] = "production";
      try {
        const { app } = application();
        app.use(sloppy).handle(async () => tick(1));
        const ctx = newCall();
        await app.run(ctx);
        expect(ctx.status).to.equal(Status.INTERNAL);
      } finally {
        if (saved === undefined) delete process.env["NODE_ENV"];
        else process.env["NODE_ENV"] = saved;
      }
    });
  });

  describe("calling next() twice", () => {
    it("one after the other: INTERNAL blamed on the middleware, reported once, the handler run once", async () => {
      const { app, reports } = application();
      let handled = 0;
      app.use(async function twice(_ctx, next) {
        await next();
        await next();
      }).handle(() => void handled++);
      const ctx = newCall();
      await app.run(ctx);
      expect([ctx.status, ctx.interceptorFailed, handled]).to.deep.equal([Status.INTERNAL, "twice", 1]);
      expect(reports.map((r) => [r.at, String(r.error)])).to.deep.equal([["twice", "Error: next() called multiple times"]]);
    });

    it("at once, the first not awaited: INTERNAL blamed on the middleware, after the first downstream finished", async () => {
      const { app, reports } = application();
      let finished = false;
      app.use(async function racing(_ctx, next) {
        void next();
        await next();
      }).handle(async () => {
        await tick(2);
        finished = true;
      });
      const ctx = newCall();
      await app.run(ctx);
      expect([ctx.status, ctx.interceptorFailed, finished]).to.deep.equal([Status.INTERNAL, "racing", true]);
      expect(reports.map((r) => r.at)).to.deep.equal(["racing"]);
    });
  });

  describe("calling next() after returning", () => {
    it("leaves the ended call as it was, runs nothing more, and reports the middleware once", async () => {
      const { app, reports } = application();
      let handled = 0;
      let late: Promise<void> | undefined;
      app.use(async function deferred(_ctx, next) {
        setTimeout(() => (late = next()), 1);
      }).handle(() => void handled++);
      const ctx = newCall();
      await app.run(ctx);
      expect([ctx.status, ctx.failure]).to.deep.equal([Status.OK, undefined]);
      await tick(5);
      await late;
      expect(handled).to.equal(0);
      expect([ctx.status, ctx.applied]).to.deep.equal([Status.OK, ["deferred"]]);
      expect(reports.map((r) => r.at)).to.deep.equal(["deferred"]);
      expect(String(reports[0]?.error)).to.match(/deferred called next\(\) after it had returned/);
    });
  });

  describe("well-behaved middleware", () => {
    it("leave no bookkeeping behind: the count is back to 0 and no waiter list was made", async () => {
      const { app, reports } = application();
      app.use(passThrough, { name: "a" }).use(passThrough, { name: "b" }).handle(async () => tick(1));
      const ctx = newCall();
      const frame = await runFrame(app, new CallFrame(ctx));
      expect([frame.open, frame.waiting, ctx.status, reports.length]).to.deep.equal([0, undefined, Status.OK, 0]);
      const failing = newCall();
      app.handle(() => {
        throw new StatusError(Status.NOT_FOUND, "no");
      });
      const failingFrame = await runFrame(app, new CallFrame(failing));
      expect([failingFrame.open, failingFrame.waiting, failing.failure?.at]).to.deep.equal([0, undefined, HANDLER]);
    });
  });

  describe("in bin/node's StdioHost", () => {
    it("answers INTERNAL with interceptor_failed naming the middleware, and logs one error line naming it", async () => {
      const log = captureLogger();
      const app = new Application({ onError: (err, ctx, at) => log.logger.error({ err, service: ctx.service, method: ctx.method, at }, "call failed") })
        .use(logging({ logger: log.logger }))
        .use(sloppy)
        .handle(async (ctx) => {
          await tick(1);
          ctx.response = { ok: true };
        });
      const chunks: string[] = [];
      const node = new StdioHost({ app, logger: log.logger, write: (chunk) => (chunks.push(chunk), true) });
      node.handleLine(JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_call", msg_id: 1, service: "S", method: "M", request: {} } }), 1);
      await node.whenIdle();
      expect(chunks.join("")).to.equal('{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 1, "status": "INTERNAL", "interceptor_failed": "sloppy", "msg_id": 0}}\n');
      const errors = log.records().filter((r) => r["level"] === 50);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.deep.include({ at: "sloppy", msg: "call failed" });
      expect((errors[0]?.["err"] as { message?: string }).message).to.include("middleware sloppy returned before");
    });
  });
});
