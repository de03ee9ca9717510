import { expect } from "chai";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import { Status } from "../../../lib/core/status.js";
import { faults } from "../../../middleware/client/faults.js";
import { retry } from "../../../middleware/client/retry.js";
import { FakeClock } from "../../support/fake-clock.js";
import { Prng } from "../../support/prng.js";
import { keyValueServer } from "../../support/servers.js";

describe("client faults(options)", () => {
  it("fails 10% of 10,000 calls within 8-12% without sending them (seeded)", async () => {
    const prng = new Prng(7);
    const server = keyValueServer();
    const client = createClient(new InProcessTransport(server.app)).use(faults({ rules: [{ abort: "UNAVAILABLE", abortPercent: 10 }], random: () => prng.next() }));
    let failed = 0;
    for (let i = 0; i < 10_000; i++) if ((await client.call("KeyValue", "Get", { key: "k" })).status === Status.UNAVAILABLE) failed++;
    expect(failed).to.be.within(800, 1200);
    expect(server.seen.length).to.equal(10_000 - failed);
  });

  it("delays the calls it selects on its clock, before they are sent", async () => {
    const clock = new FakeClock();
    const server = keyValueServer();
    const client = createClient(new InProcessTransport(server.app)).use(faults({ rules: [{ methods: "KeyValue/Put", delayMs: 250 }], clock }));
    const put = client.call("KeyValue", "Put", { key: "k", value: "v" });
    await clock.advance(249);
    expect(server.seen.length).to.equal(0);
    await clock.advance(1);
    expect((await put).status).to.equal(Status.OK);
    expect(clock.delays).to.deep.equal([250]);
  });

  it("faults each attempt when put after retry()", async () => {
    const clock = new FakeClock();
    const random = [0.05, 0.5, 0.5, 0.5];
    const server = keyValueServer();
    const client = createClient(new InProcessTransport(server.app))
      .use(retry({ maxAttempts: 3, clock, random: () => 0 }))
      .use(faults({ rules: [{ abort: "UNAVAILABLE", abortPercent: 10 }], random: () => random.shift() ?? 0.5 }));
    const result = await clock.run(client.call("KeyValue", "Get", { key: "k" }));
    expect(result.status).to.equal(Status.NOT_FOUND);
    expect(server.seen.length).to.equal(1);
  });
});
