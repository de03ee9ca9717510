import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { Status } from "../../lib/core/status.js";
import { principalOfToken } from "../../lib/auth/principal.js";
import type { Principal } from "../../lib/auth/principal.js";
import { type AuthorizeOptions, authorize } from "../../middleware/authorize.js";
import { rateLimit } from "../../middleware/rate-limit.js";

const POLICY = { "KeyValue/Put": ["kv:write"], "KeyValue/*": ["kv:read"] };

/** Runs a call to KeyValue/`method` as `principal` through authorize and a rate limit of one call. */
async function call(options: AuthorizeOptions, method: string, principal: Principal | undefined, app?: Application) {
  const application = app ?? new Application({ onError: () => {} }).use(authorize(options)).handle(() => {});
  const ctx = new CallContext({ service: "KeyValue", method, request: {}, peer: "c1", state: principal === undefined ? {} : { principal } });
  await application.run(ctx);
  return ctx;
}

describe("authorize()", () => {
  const reader = principalOfToken("reader", ["kv:read"]);
  const writer = principalOfToken("writer", ["kv:read", "kv:write"]);
  const writeOnly = principalOfToken("w", ["kv:write"]);

  it("requires every scope of every entry whose selector matches", async () => {
    expect((await call({ policy: POLICY }, "Get", reader)).status).to.equal(Status.OK);
    expect((await call({ policy: POLICY }, "Put", writer)).status).to.equal(Status.OK);
    const denied = await call({ policy: POLICY }, "Put", reader);
    expect(denied.status).to.equal(Status.PERMISSION_DENIED);
    expect(denied.interceptorFailed).to.equal("authorize");
    expect(denied.failure?.error.message).to.equal("permission denied: needs scope kv:write");
    // Put matches both entries: kv:write alone is not enough.
    expect((await call({ policy: POLICY }, "Put", writeOnly)).status).to.equal(Status.PERMISSION_DENIED);
  });

  it("denies a call without a principal wherever a rule asks for something", async () => {
    expect((await call({ policy: POLICY }, "Get", undefined)).status).to.equal(Status.PERMISSION_DENIED);
    expect((await call({ policy: POLICY, rules: [] }, "Get", undefined, undefined)).status).to.equal(Status.PERMISSION_DENIED);
  });

  it("checks roles (one of them) and a function of the principal and the call", async () => {
    const admin = principalOfToken("root", [], ["admin"]);
    const options: AuthorizeOptions = {
      rules: [
        { methods: "KeyValue/Delete", roles: ["admin", "ops"] },
        { methods: "KeyValue/Get", allow: function ownKeys(principal, ctx) { return (ctx as CallContext).request !== undefined && principal?.subject === "root"; } },
      ],
    };
    expect((await call(options, "Delete", admin)).status).to.equal(Status.OK);
    expect((await call(options, "Delete", reader)).failure?.error.message).to.equal("permission denied: needs a role of admin ops");
    expect((await call(options, "Get", admin)).status).to.equal(Status.OK);
    expect((await call(options, "Get", reader)).failure?.error.message).to.equal("permission denied: needs ownKeys()");
  });

  it("says why in the error's details (google.rpc.ErrorInfo on gRPC): the reason, and what was missing", async () => {
    const rules: AuthorizeOptions = { rules: [{ methods: "KeyValue/Delete", roles: ["admin", "ops"] }, { methods: "KeyValue/Get", allow: function ownKeys() { return false; } }] };
    const detailsOf = async (options: AuthorizeOptions, method: string) => (await call(options, method, reader)).failure?.error.details;
    const domain = "rpc-interceptors.authorize";
    expect(await detailsOf({ policy: POLICY }, "Put")).to.deep.equal({ reason: "INSUFFICIENT_SCOPE", domain, metadata: { scope: "kv:write" } });
    expect(await detailsOf(rules, "Delete")).to.deep.equal({ reason: "MISSING_ROLE", domain, metadata: { roles: "admin ops" } });
    expect(await detailsOf(rules, "Get")).to.deep.equal({ reason: "NOT_ALLOWED", domain, metadata: { rule: "ownKeys()" } });
    expect(await detailsOf({ policy: { "KeyValue/Put": ["kv:write"] }, denyUnmatched: true }, "Get")).to.deep.equal({ reason: "NO_RULE", domain, metadata: {} });
  });

  it("lets unmatched methods through, or refuses them with denyUnmatched", async () => {
    expect((await call({ policy: { "KeyValue/Put": ["kv:write"] } }, "Get", reader)).status).to.equal(Status.OK);
    expect((await call({ policy: { "KeyValue/Put": ["kv:write"] }, denyUnmatched: true }, "Get", reader)).status).to.equal(Status.PERMISSION_DENIED);
  });

  it("spends no rate-limit tokens on a call it refuses, when placed before rateLimit", async () => {
    const app = new Application({ onError: () => {} }).use(authorize({ policy: POLICY })).use(rateLimit({ capacity: 1, refillPerSecond: 0.001 })).handle(() => {});
    for (let i = 0; i < 5; i++) expect((await call({}, "Put", reader, app)).interceptorFailed).to.equal("authorize");
    expect((await call({}, "Put", writer, app)).status).to.equal(Status.OK);
    expect((await call({}, "Put", writer, app)).interceptorFailed).to.equal("rate_limit");
  });

  it("is shown per method by describe()", () => {
    const app = new Application().use(authorize({ policy: POLICY })).handle(() => {});
    expect(app.describe(["KeyValue/Put", "KeyValue/Get", "Health/Check"])).to.equal(
      [
        "middleware, outermost first:",
        "  authorize",
        "chain per method:",
        "  KeyValue/Put  authorize -> handler",
        "                  authorize: KeyValue/Put: scopes kv:write; KeyValue/*: scopes kv:read",
        "  KeyValue/Get  authorize -> handler",
        "                  authorize: KeyValue/*: scopes kv:read",
        "  Health/Check  authorize -> handler",
        "                  authorize: open: no rule",
        "",
      ].join("\n"),
    );
  });

  it("throws at once for no rules, bad scopes and bad selectors", () => {
    expect(() => authorize({})).to.throw(TypeError, /policy or rules/);
    expect(() => authorize({ policy: { "KeyValue/Put": "kv:write" as never } })).to.throw(TypeError, /list of non-empty strings/);
    expect(() => authorize({ policy: { KeyValue: ["x"] } })).to.throw(TypeError, /not "Service\/Method"/);
  });
});
