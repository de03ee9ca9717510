import { expect } from "chai";
import { Registry } from "prom-client";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import { Application } from "../../../lib/core/application.js";
import { Status } from "../../../lib/core/status.js";
import { StatusError } from "../../../lib/core/status-error.js";
import { metrics } from "../../../middleware/client/metrics.js";
import { keyValueLabels, sample } from "../../support/prometheus.js";

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

  it("labels grpc_type by the call's kind and counts each streamed message: sent as the transport takes it, received as it is delivered", async () => {
    const registry = new Registry();
    async function* messages(n: number) {
      for (let i = 1; i <= n; i++) yield { i };
    }
    // Scan answers 3 messages; PutMany counts its requests; Batch echoes each request, and
    // fails NOT_FOUND after 2 when asked.
    const server = new Application().handle(async (ctx) => {
      if (ctx.kind === "server_stream") ctx.response = messages(3);
      else if (ctx.kind === "client_stream") {
        let count = 0;
        for await (const _ of ctx.request as AsyncIterable<unknown>) count++;
        ctx.response = { count };
      } else {
        const fail = ctx.metadata.get("x-fail") !== undefined;
        ctx.response = (async function* () {
          let n = 0;
          for await (const message of ctx.request as AsyncIterable<unknown>) {
            if (fail && ++n > 2) throw new StatusError(Status.NOT_FOUND, "no more");
            yield message;
          }
        })();
      }
    });
    const client = createClient(new InProcessTransport(server)).use(metrics({ registry }));
    const drain = async (call: AsyncIterable<unknown>): Promise<number> => {
      let n = 0;
      for await (const _ of call) n++;
      return n;
    };
    expect(await drain(client.serverStream("KeyValue", "Scan", {}))).to.equal(3);
    expect((await client.clientStream("KeyValue", "PutMany", messages(4))).response).to.deep.equal({ count: 4 });
    expect(await drain(client.bidi("KeyValue", "Batch", messages(5)))).to.equal(5);
    const failed = client.bidi("KeyValue", "Batch", messages(5), { metadata: { "x-fail": "1" } });
    await drain(failed).catch(() => undefined);

        const scan = keyValueLabels("server_stream", "Scan");
    const putMany = keyValueLabels("client_stream", "PutMany");
    const batch = keyValueLabels("bidi_stream", "Batch");
    const expected: [string, Record<string, string>, number | undefined][] = [
      ["grpc_client_started_total", scan, 1],
      ["grpc_client_msg_sent_total", scan, 1],
      ["grpc_client_msg_received_total", scan, 3],
      ["grpc_client_handled_total", { ...scan, grpc_code: "OK" }, 1],
      ["grpc_client_handling_seconds_count", scan, 1],
      ["grpc_client_started_total", putMany, 1],
      ["grpc_client_msg_sent_total", putMany, 4],
      ["grpc_client_msg_received_total", putMany, 1],
      ["grpc_client_handled_total", { ...putMany, grpc_code: "OK" }, 1],
      ["grpc_client_started_total", batch, 2],
      ["grpc_client_msg_received_total", batch, 5 + 2],
      ["grpc_client_handled_total", { ...batch, grpc_code: "OK" }, 1],
      ["grpc_client_handled_total", { ...batch, grpc_code: "NotFound" }, 1],
      ["grpc_client_handling_seconds_count", batch, 2],
      ["grpc_client_started_total", keyValueLabels("unary", "Scan"), undefined],
    ];
    for (const [name, labelSet, value] of expected) expect(await sample(registry, name, labelSet), `${name} ${JSON.stringify(labelSet)}`).to.equal(value);
    // The first Batch sent all 5; the failing one the 3 its handler pulled before failing.
    expect(await sample(registry, "grpc_client_msg_sent_total", batch)).to.equal(5 + 3);
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
