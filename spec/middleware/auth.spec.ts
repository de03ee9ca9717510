import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { Status } from "../../lib/core/status.js";
import { type AuthState, auth } from "../../middleware/auth.js";

/** Runs one call with `metadata` through auth into a handler that records whether it ran. */
async function call(tokens: Iterable<string> | ReadonlyMap<string, string>, metadata: unknown): Promise<{ ctx: CallContext<Partial<AuthState>>; reached: boolean }> {
  let reached = false;
  const app = new Application({ onError: () => {} }).use(auth({ tokens })).handle(() => void (reached = true));
  const ctx = new CallContext<Partial<AuthState>>({ service: "KeyValue", method: "Get", request: {}, metadata, peer: "c1" });
  await app.run(ctx as CallContext<AuthState>);
  return { ctx, reached };
}

async function expectRejected(tokens: Iterable<string>, metadata: unknown): Promise<void> {
  const { ctx, reached } = await call(tokens, metadata);
  expect(ctx.status, JSON.stringify(metadata)).to.equal(Status.UNAUTHENTICATED);
  expect(ctx.interceptorFailed).to.equal("auth");
  expect(ctx.state.principal).to.equal(undefined);
  expect(reached, "the handler must not run").to.equal(false);
}

describe("auth()", () => {
  it("accepts a configured bearer token and puts the principal into ctx.state", async () => {
    const { ctx, reached } = await call(["s3cret"], { authorization: "Bearer s3cret" });
    expect(ctx.status).to.equal(Status.OK);
    expect(reached).to.equal(true);
    expect(ctx.applied).to.deep.equal(["auth"]);
    expect(ctx.state.principal).to.deep.equal({ subject: "token#1", scheme: "bearer", scopes: [], roles: [], claims: {} });
  });

  it("names the principal after the token's place in the list, or the name given in a map", async () => {
    expect((await call(["a", "b"], { authorization: "Bearer b" })).ctx.state.principal?.subject).to.equal("token#2");
    const named = new Map([["s3cret", "ci-bot"]]);
    expect((await call(named, { authorization: "Bearer s3cret" })).ctx.state.principal?.subject).to.equal("ci-bot");
  });

  it("never puts the token itself into ctx.state", async () => {
    const { ctx } = await call(["s3cret-value"], { authorization: "Bearer s3cret-value" });
    expect(JSON.stringify(ctx.state)).not.to.include("s3cret-value");
  });

  it("matches the metadata key in any case", async () => {
    for (const key of ["Authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"]) {
      expect((await call(["s3cret"], { [key]: "Bearer s3cret" })).ctx.status, key).to.equal(Status.OK);
    }
  });

  it("matches the Bearer scheme in any case", async () => {
    for (const scheme of ["bearer", "BEARER", "bEaReR"]) {
      expect((await call(["s3cret"], { authorization: `${scheme} s3cret` })).ctx.status, scheme).to.equal(Status.OK);
    }
  });

  it("rejects missing or empty metadata with UNAUTHENTICATED at auth", async () => {
    await expectRejected(["s3cret"], {});
    await expectRejected(["s3cret"], undefined);
    await expectRejected(["s3cret"], { authorization: "" });
    await expectRejected(["s3cret"], { "x-authorization": "Bearer s3cret" });
  });

  it("compares the token exactly: case, prefix, suffix and padding all count", async () => {
    for (const value of ["Bearer S3CRET", "Bearer s3cre", "Bearer s3crett", "Bearer s3cret ", "Bearer  s3cret x", "Bearer\ts3cret", "Bearer"]) {
      await expectRejected(["s3cret"], { authorization: value });
    }
  });

  it("rejects other schemes and a bare token", async () => {
    await expectRejected(["s3cret"], { authorization: "Basic s3cret" });
    await expectRejected(["s3cret"], { authorization: `Basic ${Buffer.from("user:s3cret").toString("base64")}` });
    await expectRejected(["s3cret"], { authorization: "s3cret" });
    await expectRejected(["s3cret"], { authorization: "Token s3cret" });
  });

  it("accepts any of several tokens, and only those", async () => {
    expect((await call(["one", "two"], { authorization: "Bearer one" })).ctx.status).to.equal(Status.OK);
    expect((await call(["one", "two"], { authorization: "Bearer two" })).ctx.status).to.equal(Status.OK);
    await expectRejected(["one", "two"], { authorization: "Bearer three" });
  });

  it("rejects an empty token list at once, when the factory is called", () => {
    expect(() => auth({ tokens: [] })).to.throw(TypeError, /at least one token/);
    expect(() => auth({ tokens: new Map() })).to.throw(TypeError, /at least one token/);
  });

  it("rejects empty tokens and tokens with whitespace at once", () => {
    expect(() => auth({ tokens: [""] })).to.throw(TypeError, /non-empty string without whitespace/);
    expect(() => auth({ tokens: ["two words"] })).to.throw(TypeError, /whitespace/);
  });

  it("returns a middleware named auth (its wire name)", () => {
    expect(auth({ tokens: ["t"] }).name).to.equal("auth");
  });
});
