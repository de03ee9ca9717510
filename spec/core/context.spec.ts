import { expect } from "chai";
import { CallContext, HANDLER } from "../../lib/core/context.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";

function newCall(init: Partial<ConstructorParameters<typeof CallContext>[0]> = {}): CallContext {
  return new CallContext({ service: "KeyValue", method: "Get", request: { key: "k" }, peer: "c1", ...init });
}

describe("new CallContext()", () => {
  it("carries the call only: none of the pipeline's bookkeeping (that is the Application's CallFrame)", () => {
    const ctx = newCall();
    const bookkeeping = ["handled", "depth", "open", "waiting", "returned", "tails"];
    const members = [...Object.keys(ctx), ...Object.getOwnPropertyNames(CallContext.prototype)];
    expect(members.filter((name) => bookkeeping.includes(name))).to.deep.equal([]);
  });

  it("starts OK, with no response, nothing applied, no failure and an empty state", () => {
    const ctx = newCall();
    expect([ctx.status, ctx.response, ctx.applied, ctx.failure]).to.deep.equal([Status.OK, undefined, [], undefined]);
    expect(ctx.state).to.deep.equal({});
    expect([ctx.kind, ctx.signal.aborted, ctx.messagesIn, ctx.messagesOut]).to.deep.equal(["unary", false, 1, 0]);
  });

  it("wraps the metadata for case-insensitive lookup and keeps the given state", () => {
    const ctx = new CallContext({ service: "S", method: "M", request: null, peer: "p", metadata: { Authorization: "x" }, state: { tenant: "t" } });
    expect(ctx.metadata.get("authorization")).to.equal("x");
    expect(ctx.state.tenant).to.equal("t");
  });
});

describe("CallContext#cancel(reason)", () => {
  it("aborts ctx.signal with a CANCELLED StatusError by default; the first reason stays", () => {
    const ctx = newCall();
    ctx.cancel();
    ctx.cancel(new StatusError(Status.UNAVAILABLE, "later"));
    expect(ctx.signal.aborted).to.equal(true);
    expect((ctx.signal.reason as StatusError).code).to.equal(Status.CANCELLED);
  });

  it("takes the reason it is given (DEADLINE_EXCEEDED, UNAVAILABLE)", () => {
    const ctx = newCall();
    ctx.cancel(new StatusError(Status.DEADLINE_EXCEEDED, "late"));
    expect((ctx.signal.reason as StatusError).code).to.equal(Status.DEADLINE_EXCEEDED);
  });
});

describe("CallContext#interceptorFailed", () => {
  it("names the middleware that failed, and is undefined for the handler", () => {
    const ctx = newCall();
    ctx.failure = { at: "auth", error: new StatusError(Status.UNAUTHENTICATED), thrown: undefined, threw: true };
    expect(ctx.interceptorFailed).to.equal("auth");
    ctx.failure = { at: HANDLER, error: new StatusError(Status.INTERNAL), thrown: undefined, threw: true };
    expect(ctx.interceptorFailed).to.equal(undefined);
  });
});

describe("ctx.throw(code, message, details)", () => {
  it("throws a StatusError with the code, message and details", () => {
    const ctx = newCall();
    expect(() => ctx.throw(Status.PERMISSION_DENIED, "admins only", { role: "user" }))
      .to.throw(StatusError, "admins only")
      .with.property("details")
      .that.deep.equals({ role: "user" });
    expect(() => ctx.throw(Status.NOT_FOUND)).to.throw(StatusError).with.property("code", Status.NOT_FOUND);
  });
});
