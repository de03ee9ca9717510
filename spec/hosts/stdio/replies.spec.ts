import { expect } from "chai";
import { Application } from "../../../lib/core/application.js";
import { CallContext } from "../../../lib/core/context.js";
import { Status } from "../../../lib/core/status.js";
import { callOutcomeOf, callReplyText, initReply, NOT_SUPPORTED, notSupportedReply, outcomeFromReply, outcomeText, statsReply } from "../../../lib/hosts/stdio/replies.js";

/** A finished call through `logging`-like passes and a `gate` that may refuse it. */
async function finished(refuse: boolean, handler: (ctx: CallContext) => void = (ctx) => (ctx.response = { written: true })): Promise<CallContext> {
  const app = new Application()
    .use(async function pass(_ctx, next) {
      await next();
    }, { name: "logging" })
    .use(async function gate(ctx, next) {
      if (refuse) ctx.throw(Status.UNAUTHENTICATED);
      await next();
    }, { name: "auth" })
    .handle(handler);
  const ctx = new CallContext({ service: "KeyValue", method: "Put", request: {}, peer: "c1" });
  await app.run(ctx);
  return ctx;
}

describe("callOutcomeOf(ctx)", () => {
  it("carries the interceptors applied and the response of a call every middleware passed", async () => {
    expect(callOutcomeOf(await finished(false))).to.deep.equal({ status: Status.OK, interceptorsApplied: ["logging", "auth"], response: { written: true } });
  });

  it("carries only the middleware that ended a call, never a response", async () => {
    expect(callOutcomeOf(await finished(true))).to.deep.equal({ status: Status.UNAUTHENTICATED, interceptorFailed: "auth" });
  });

  it("drops the partial response of a handler that failed", async () => {
    const ctx = await finished(false, (c) => {
      c.response = { partial: true };
      c.throw(Status.INVALID_ARGUMENT);
    });
    expect(callOutcomeOf(ctx)).to.deep.equal({ status: Status.INVALID_ARGUMENT, interceptorsApplied: ["logging", "auth"], response: undefined });
  });
});

describe("outcomeText(outcome) and callReplyText()", () => {
  it("print the grpc_call_ok keys in the wire's order, as Python's json.dumps does", () => {
    expect(outcomeText({ status: Status.OK, interceptorsApplied: ["logging", "auth", "rate_limit"], response: { key: "k\u00e9", found: true } })).to.equal(
      '"status": "OK", "interceptors_applied": ["logging", "auth", "rate_limit"], "response": {"key": "k\\u00e9", "found": true}',
    );
    expect(outcomeText({ status: Status.UNAUTHENTICATED, interceptorFailed: "auth" })).to.equal('"status": "UNAUTHENTICATED", "interceptor_failed": "auth"');
    expect(outcomeText({ status: Status.DEADLINE_EXCEEDED }), "an outcome the server never gave").to.equal('"status": "DEADLINE_EXCEEDED"');
    expect(callReplyText(7, { status: Status.UNIMPLEMENTED, interceptorsApplied: [] }, 3)).to.equal(
      '{"type": "grpc_call_ok", "in_reply_to": 7, "status": "UNIMPLEMENTED", "interceptors_applied": [], "msg_id": 3}',
    );
  });

  it("reads back as the outcome it printed", () => {
    for (const outcome of [
      { status: Status.OK, interceptorsApplied: ["logging"], response: { written: true }, interceptorFailed: undefined },
      { status: Status.RESOURCE_EXHAUSTED, interceptorFailed: "rate_limit", interceptorsApplied: undefined, response: undefined },
    ]) {
      expect(outcomeFromReply(JSON.parse(callReplyText("m1", outcome, 0)) as Record<string, unknown>)).to.deep.equal(outcome);
    }
  });
});

describe("initReply(), statsReply(), notSupportedReply()", () => {
  it("build the other reply bodies, msg_id left for the outbox", () => {
    expect(initReply(1)).to.deep.equal({ type: "init_ok", in_reply_to: 1 });
    expect(statsReply(2, { total_requests: 0 })).to.deep.equal({ type: "grpc_interceptor_stats_ok", in_reply_to: 2, stats: { total_requests: 0 } });
    expect(notSupportedReply(3, "echo")).to.deep.equal({ type: "error", in_reply_to: 3, code: NOT_SUPPORTED, text: "unsupported message type: echo" });
    expect(NOT_SUPPORTED).to.equal(10);
  });
});

describe("outcomeFromReply(body)", () => {
  it("reads grpc_call_ok as the stdio host writes it", () => {
    expect(outcomeFromReply({ type: "grpc_call_ok", in_reply_to: 1, status: "OK", interceptors_applied: ["logging"], response: { written: true }, msg_id: 0 })).to.deep.equal({
      status: Status.OK,
      response: { written: true },
      interceptorsApplied: ["logging"],
      interceptorFailed: undefined,
    });
    expect(outcomeFromReply({ type: "grpc_call_ok", status: "UNAUTHENTICATED", interceptor_failed: "auth" })).to.deep.include({ status: Status.UNAUTHENTICATED, interceptorFailed: "auth" });
    expect(outcomeFromReply({ type: "grpc_call_ok", status: "WEIRD" }).status).to.equal(Status.UNKNOWN);
  });

  it("throws the status of an error reply, or of a reply it does not know", () => {
    expect(() => outcomeFromReply({ type: "error", code: 10, text: "nope" })).to.throw().with.property("code", Status.UNIMPLEMENTED);
    expect(() => outcomeFromReply({ type: "error", code: 13, text: "crash" })).to.throw().with.property("code", Status.UNKNOWN);
    expect(() => outcomeFromReply({ type: "echo_ok" })).to.throw().with.property("code", Status.UNKNOWN);
  });
});
