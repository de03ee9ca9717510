import { expect } from "chai";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import { createNodeApplication } from "../../../lib/app/node-app.js";
import { Status } from "../../../lib/core/status.js";
import { credentials } from "../../../middleware/client/credentials.js";
import { keyValueServer, MemoryLogger } from "../../support/servers.js";

describe("credentials({ token })", () => {
  const nodeApp = () => createNodeApplication({ config: { authTokens: ["valid_token"], rateLimitCapacity: 100, rateLimitRefillPerSecond: 0, trustProxy: false }, logger: new MemoryLogger() });

  it("gets a call past the server's auth()", async () => {
    const app = nodeApp();
    const without = await createClient(new InProcessTransport(app)).call("KeyValue", "Get", { key: "k" });
    expect(without).to.include({ status: Status.UNAUTHENTICATED, interceptorFailed: "auth" });
    const withToken = await createClient(new InProcessTransport(app)).use(credentials({ token: "valid_token" })).call("KeyValue", "Get", { key: "k" });
    expect(withToken.status).to.equal(Status.NOT_FOUND);
    expect(withToken.interceptorsApplied).to.deep.equal(["logging", "auth", "rate_limit"]);
  });

  it("leaves an authorization the call already carries alone", async () => {
    const { app, seen } = keyValueServer();
    const client = createClient(new InProcessTransport(app)).use(credentials({ token: "mine" }));
    await client.call("KeyValue", "Get", { key: "k" }, { metadata: { Authorization: "Bearer theirs" } });
    expect(seen[0]?.metadata["authorization"]).to.equal("Bearer theirs");
  });

  it("asks a token function on each call", async () => {
    const { app, seen } = keyValueServer();
    let n = 0;
    const client = createClient(new InProcessTransport(app)).use(credentials({ token: async () => `t${++n}` }));
    await client.call("KeyValue", "Get", { key: "k" });
    await client.call("KeyValue", "Get", { key: "k" });
    expect(seen.map((call) => call.metadata["authorization"])).to.deep.equal(["Bearer t1", "Bearer t2"]);
  });

  it("ends the call UNAUTHENTICATED, unsent, when the token function gives nothing usable", async () => {
    const { app, seen } = keyValueServer();
    const client = createClient(new InProcessTransport(app)).use(credentials({ token: () => "has space" }));
    const result = await client.call("KeyValue", "Get", { key: "k" });
    expect(result.status).to.equal(Status.UNAUTHENTICATED);
    expect(result.error?.message).not.to.include("has space");
    expect(seen).to.have.length(0);
  });

  it("checks the token when created", () => {
    for (const token of ["", "two words", 42, undefined]) {
      expect(() => credentials({ token } as never), String(token)).to.throw(TypeError);
    }
  });
});
