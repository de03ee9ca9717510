import { expect } from "chai";
import { createClient } from "../../lib/client/client.js";
import { InProcessTransport } from "../../lib/client/transports/in-process-transport.js";
import { cache } from "../../middleware/client/cache.js";
import { logging } from "../../middleware/client/logging.js";
import { FakeClock } from "../support/fake-clock.js";
import { keyValueServer, MemoryLogger } from "../support/servers.js";

// The seed's example (seeds/000): a caching and a logging interceptor, in either order.
describe("client middleware order: cache() and logging()", () => {
  async function threeGetsAndAPut(order: "cache first" | "logging first") {
    const { app, seen } = keyValueServer();
    const logger = new MemoryLogger();
    const clock = new FakeClock();
    const base = createClient(new InProcessTransport(app));
    const client =
      order === "cache first"
        ? base.use(cache({ ttlMs: 60_000, clock })).use(logging({ logger }))
        : base.use(logging({ logger })).use(cache({ ttlMs: 60_000, clock }));
    await client.call("KeyValue", "Put", { key: "k", value: "v1" });
    for (let i = 0; i < 3; i++) await client.call("KeyValue", "Get", { key: "k" });
    const logged = logger.lines.map((line) => `${line.obj["method"]} ${line.obj["status"]}`);
    return { logged, sent: seen.map((call) => call.path) };
  }

  it("cache before logging: logging sits by the network and never sees a cache hit", async () => {
    const { logged, sent } = await threeGetsAndAPut("cache first");
    expect(logged).to.deep.equal(["Put OK", "Get OK"]);
    expect(sent).to.deep.equal(["KeyValue/Put", "KeyValue/Get"]);
  });

  it("logging before cache: logging sits by the application and sees every call", async () => {
    const { logged, sent } = await threeGetsAndAPut("logging first");
    expect(logged).to.deep.equal(["Put OK", "Get OK", "Get OK", "Get OK"]);
    expect(sent).to.deep.equal(["KeyValue/Put", "KeyValue/Get"]);
  });
});
