import { expect } from "chai";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import { createNodeApplication } from "../../../lib/app/node-app.js";
import { credentials } from "../../../middleware/client/credentials.js";
import { logging } from "../../../middleware/client/logging.js";
import { keyValueServer, MemoryLogger } from "../../support/servers.js";

describe("logging() (client)", () => {
  it("writes one line per call: service, method, status, ms, and the server interceptor that refused it", async () => {
    const logger = new MemoryLogger();
    let t = 0;
    const app = createNodeApplication({ config: { authTokens: ["valid_token"], rateLimitCapacity: 100, rateLimitRefillPerSecond: 0, trustProxy: false }, logger: new MemoryLogger() });
    const client = createClient(new InProcessTransport(app)).use(logging({ logger, now: () => (t += 1.5) }));
    await client.call("KeyValue", "Get", { key: "k" });
    await client.call("KeyValue", "Get", { key: "k" }, { metadata: { authorization: "Bearer valid_token" } });
    expect(logger.lines).to.deep.equal([
      { level: "info", msg: "outbound call", obj: { service: "KeyValue", method: "Get", status: "UNAUTHENTICATED", ms: 1.5, failed: "auth" } },
      { level: "info", msg: "outbound call", obj: { service: "KeyValue", method: "Get", status: "NOT_FOUND", ms: 1.5 } },
    ]);
  });

  it("never logs the token, even at trace level", async () => {
    const logger = new MemoryLogger("trace");
    const client = createClient(new InProcessTransport(keyValueServer().app))
      .use(credentials({ token: "s3cret-token" }))
      .use(logging({ logger }));
    await client.call("KeyValue", "Put", { key: "k", value: "v" }, { metadata: { "x-request-id": "7" } });
    expect(logger.lines[0]?.obj["metadata"]).to.deep.equal({ authorization: "[REDACTED]", "x-request-id": "7" });
    expect(logger.lines[0]?.obj["request"]).to.deep.equal({ key: "k", value: "v" });
    expect(JSON.stringify(logger.lines)).not.to.include("s3cret-token");
  });

  it("checks its options when created", () => {
    expect(() => logging({ logger: {} as never })).to.throw(TypeError);
    expect(() => logging({ now: 5 as never })).to.throw(TypeError);
  });
});
