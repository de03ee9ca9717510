import { expect } from "chai";
import { Registry } from "prom-client";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import { Application } from "../../../lib/core/application.js";
import { Status } from "../../../lib/core/status.js";
import { metrics } from "../../../middleware/client/metrics.js";
import { sample } from "../../support/prometheus.js";

describe("metrics() (client)", () => {
  it("counts the grpc_client_* twins: started, handled by grpc_code, messages each way, handling time", async () => {
    const registry = new Registry();
    let now = 0;
    const server = new Application().handle((ctx) => {
      now += 2;
      if ((ctx.request as { key?: string }).key === "missing") ctx.status = Status.NOT_FOUND;
    });
    const client = createClient(new InProcessTransport(server)).use(metrics({ registry, now: () => now }));
    await client.call("KeyValue", "Get", { key: "k" });
    await client.call("KeyValue", "Get", { key: "missing" });
    const get = { grpc_type: "unary", grpc_service: "KeyValue", grpc_method: "Get" };
    expect(await sample(registry, "grpc_client_started_total", get)).to.equal(2);
    expect(await sample(registry, "grpc_client_msg_sent_total", get)).to.equal(2);
    expect(await sample(registry, "grpc_client_msg_received_total", get)).to.equal(1);
    expect(await sample(registry, "grpc_client_handled_total", { ...get, grpc_code: "OK" })).to.equal(1);
    expect(await sample(registry, "grpc_client_handled_total", { ...get, grpc_code: "NotFound" })).to.equal(1);
    expect(await sample(registry, "grpc_client_handling_seconds_count", get)).to.equal(2);
    expect(await sample(registry, "grpc_client_handling_seconds_sum", get)).to.be.closeTo(0.004, 1e-9);
  });

  it("shares one registry with the server's metrics(): grpc_server_* and grpc_client_* side by side", async () => {
    const registry = new Registry();
    const { metrics: serverMetrics } = await import("../../../middleware/metrics.js");
    const server = new Application().use(serverMetrics({ registry })).handle(() => {});
    await createClient(new InProcessTransport(server)).use(metrics({ registry })).call("S", "M", {});
    const labels = { grpc_type: "unary", grpc_service: "S", grpc_method: "M" };
    expect([await sample(registry, "grpc_client_started_total", labels), await sample(registry, "grpc_server_started_total", labels)]).to.deep.equal([1, 1]);
  });
});
