// One `logging`, one `auth`, one `rateLimit` object serving three hosts at once: the stdio host
// (StdioHost, in-process), a Koa app (a real HTTP server on port 0) and the gRPC host (a real
// HTTP/2 server on port 0, called by a bare grpc-js client).
import { expect } from "chai";
import Koa from "koa";
import { loadConfig } from "../../lib/app/config.js";
import { createNodeApplication } from "../../lib/app/node-app.js";
import { Application } from "../../lib/core/application.js";
import { router } from "../../lib/core/service.js";
import { KEYVALUE_PROTO } from "../../lib/grpc/proto-files.js";
import { GrpcHost } from "../../lib/hosts/grpc/grpc-host.js";
import { StdioHost } from "../../lib/hosts/stdio/stdio-host.js";
import { keyValueService, MemoryStore } from "../../lib/key-value/key-value.js";
import { auth } from "../../middleware/auth.js";
import { logging } from "../../middleware/logging.js";
import { rateLimit } from "../../middleware/rate-limit.js";
import { bareClient, bearer, grpc, unary } from "../support/bare-grpc.js";
import { capturedLogger, serve } from "../support/koa-server.js";
import { call } from "../support/messages.js";

describe("the same logging, auth and rateLimit objects in the stdio host, Koa and gRPC", () => {
  it("authenticate, count and log calls in all three; Koa and gRPC share the caller's budget (its address)", async () => {
    const log = capturedLogger("info");
    const logs = logging({ logger: log.logger });
    const guard = auth({ tokens: ["valid_token"] });
    const limit = rateLimit({ capacity: 3, refillPerSecond: 0 });
    const store = new MemoryStore();
    const kvApp = () => new Application({ onError: () => {} }).use(logs).use(guard).use(limit).handle(router([keyValueService(store)]));

    // stdio: StdioHost over the application, lines in, lines out.
    const out: string[] = [];
    const node = new StdioHost({ app: kvApp(), logger: log.logger, write: (chunk) => (out.push(chunk), true) });
    node.handleLine(call({ msgId: 1, method: "Put", request: { key: "k", value: "from stdio" } }), 1);
    node.handleLine(call({ msgId: 2, metadata: {} }), 2);
    await node.whenIdle();
    const replies = out.join("").trim().split("\n").map((line) => JSON.parse(line).body);
    expect(replies.map((r) => [r.status, r.interceptors_applied ?? r.interceptor_failed])).to.deep.equal([
      ["OK", ["logging", "auth", "rate_limit"]],
      ["UNAUTHENTICATED", "auth"],
    ]);

    // Koa: the same three objects in front of a handler reading the same store.
    const koa = new Koa();
    koa.use(logs).use(guard).use(limit).use(async (ctx) => {
      ctx.body = { value: store.get("k") };
    });
    const http = await serve(koa);
    // gRPC: the same three objects again.
    const host = new GrpcHost({ app: kvApp(), proto: KEYVALUE_PROTO });
    const client = bareClient(`127.0.0.1:${await host.listen("127.0.0.1:0")}`);
    try {
      const ok = await fetch(http.url, { headers: { authorization: "Bearer valid_token" } });
      expect([ok.status, await ok.json()]).to.deep.equal([200, { value: "from stdio" }]);
      expect(ok.headers.get("ratelimit-remaining")).to.equal("2");
      expect((await fetch(http.url)).status).to.equal(401);

      expect((await unary(client, "Get", { key: "k" }, bearer("valid_token"))).response).to.deep.equal({ key: "k", value: "from stdio", found: true });
      expect((await unary(client, "Get", { key: "k" }, bearer("nope"))).error?.code).to.equal(grpc.status.UNAUTHENTICATED);
      expect((await unary(client, "Get", { key: "k" }, bearer("valid_token"))).error).to.equal(undefined);
      // 127.0.0.1's three tokens are spent: one by Koa, two by gRPC.
      expect((await unary(client, "Get", { key: "k" }, bearer("valid_token"))).error?.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      expect((await fetch(http.url, { headers: { authorization: "Bearer valid_token" } })).status).to.equal(429);
    } finally {
      client.close();
      await host.shutdown({ graceMs: 0 });
      await http.close();
    }

    const lines = log.records().filter((r) => r["msg"] === "call" || r["msg"] === "request");
    expect(lines.map((r) => [r["msg"], r["status"], r["client"]])).to.deep.equal([
      ["call", "OK", "c1"],
      ["call", "UNAUTHENTICATED", "c1"],
      ["request", 200, "127.0.0.1"],
      ["request", 401, "127.0.0.1"],
      ["call", "OK", "127.0.0.1"],
      ["call", "UNAUTHENTICATED", "127.0.0.1"],
      ["call", "OK", "127.0.0.1"],
      ["call", "RESOURCE_EXHAUSTED", "127.0.0.1"],
      ["request", 429, "127.0.0.1"],
    ]);
  });

  it("bin/node's own application (createNodeApplication) serves the gRPC host unchanged", async () => {
    const loaded = loadConfig([], {});
    if (loaded.help) throw new Error("unexpected --help");
    const host = new GrpcHost({ app: createNodeApplication({ config: loaded.config, logger: capturedLogger("info").logger }), proto: KEYVALUE_PROTO });
    const client = bareClient(`127.0.0.1:${await host.listen("127.0.0.1:0")}`);
    try {
      expect((await unary(client, "Put", { key: "", value: "empty key" }, bearer("valid_token"))).response).to.deep.equal({ written: true });
      expect((await unary(client, "Get", { key: "" }, bearer("valid_token"))).response).to.deep.equal({ key: "", value: "empty key", found: true });
    } finally {
      client.close();
      await host.shutdown({ graceMs: 0 });
    }
  });
});
