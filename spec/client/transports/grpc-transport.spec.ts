// The client pipeline against a plain grpc-js server that is not ours: a Map behind the
// KeyValue service of the .proto, written with grpc-js's own API only.
import { expect } from "chai";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { createClient } from "../../../lib/client/client.js";
import { GrpcTransport } from "../../../lib/client/transports/grpc-transport.js";
import { Status } from "../../../lib/core/status.js";
import { credentials } from "../../../middleware/client/credentials.js";
import { deadline } from "../../../middleware/client/deadline.js";
import { retry } from "../../../middleware/client/retry.js";
import { KEYVALUE_PROTO } from "../../support/bare-grpc.js";

type Callback = grpc.sendUnaryData<unknown>;

/** A KeyValue server in plain grpc-js; `script` may answer a call first (a fault, a delay). */
async function plainServer(script: (method: string, call: grpc.ServerUnaryCall<{ key: string; value?: string }, unknown>, callback: Callback) => boolean) {
  const data = new Map<string, string>();
  const seen: { method: string; metadata: Record<string, unknown>; deadline: grpc.Deadline }[] = [];
  const definition = loader.loadSync(KEYVALUE_PROTO, { keepCase: true, defaults: true });
  const service = (grpc.loadPackageDefinition(definition) as unknown as { keyvalue: { v1: { KeyValue: { service: grpc.ServiceDefinition } } } }).keyvalue.v1.KeyValue.service;
  const handler = (method: string, answer: (request: { key: string; value?: string }) => grpc.ServiceError | object) =>
    (call: grpc.ServerUnaryCall<{ key: string; value?: string }, unknown>, callback: Callback) => {
      seen.push({ method, metadata: call.metadata.getMap(), deadline: call.getDeadline() });
      if (script(method, call, callback)) return;
      const result = answer(call.request);
      if ("code" in result) callback(result as grpc.ServiceError);
      else callback(null, result);
    };
  const server = new grpc.Server();
  server.addService(service, {
    Get: handler("Get", ({ key }) => (data.has(key) ? { key, value: data.get(key), found: true } : ({ code: grpc.status.NOT_FOUND, details: `no key ${key}` } as grpc.ServiceError))),
    Put: handler("Put", ({ key, value }) => (data.set(key, value ?? ""), { written: true })),
    Delete: handler("Delete", ({ key }) => ({ key, deleted: data.delete(key) })),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { target: `127.0.0.1:${port}`, seen, data, stop: () => server.forceShutdown() };
}

describe("GrpcTransport", () => {
  const stops: (() => void)[] = [];
  afterEach(() => stops.splice(0).forEach((stop) => stop()));

  it("carries calls and credentials to a plain grpc-js server: OK, and NOT_FOUND with the server's message", async () => {
    const server = await plainServer(() => false);
    stops.push(server.stop);
    const client = createClient(new GrpcTransport({ target: server.target })).use(credentials({ token: "s3cret" }));
    expect(await client.call("KeyValue", "Put", { key: "a", value: "1" })).to.deep.include({ status: Status.OK, response: { written: true } });
    expect((await client.call("keyvalue.v1.KeyValue", "Get", { key: "a" })).response).to.deep.equal({ key: "a", value: "1", found: true });
    const missing = await client.call("KeyValue", "Get", { key: "b" });
    expect(missing.status).to.equal(Status.NOT_FOUND);
    expect(missing.error?.message).to.equal("KeyValue/Get: the server answered NOT_FOUND: no key b");
    expect(server.seen[0]?.metadata["authorization"]).to.equal("Bearer s3cret");
    await client.close();
  });

  it("sends the deadline middleware's budget as the gRPC deadline, not as metadata", async () => {
    const server = await plainServer(() => false);
    stops.push(server.stop);
    const client = createClient(new GrpcTransport({ target: server.target })).use(deadline({ timeoutMs: 5000 }));
    await client.call("KeyValue", "Get", { key: "a" });
    const sent = server.seen[0]!;
    expect(sent.metadata).not.to.have.property("grpc-timeout");
    expect(Number(sent.deadline) - Date.now()).to.be.within(3000, 5000);
    await client.close();
  });

  it("a deadline that passes ends the call DEADLINE_EXCEEDED; a signal cancels it", async () => {
    const server = await plainServer(() => true); // never answers
    stops.push(server.stop);
    const client = createClient(new GrpcTransport({ target: server.target })).use(deadline({ timeoutMs: 100 }));
    expect((await client.call("KeyValue", "Get", { key: "a" })).status).to.equal(Status.DEADLINE_EXCEEDED);
    const controller = new AbortController();
    const other = createClient(new GrpcTransport({ target: server.target }));
    const call = other.call("KeyValue", "Get", { key: "a" }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await call).status).to.equal(Status.CANCELLED);
    await Promise.all([client.close(), other.close()]);
  });

  it("retry() waits the server's grpc-retry-pushback-ms, and does not retry RESOURCE_EXHAUSTED without a hint", async () => {
    let refusals = 2;
    const server = await plainServer((method, _call, callback) => {
      if (method !== "Get" || refusals === 0) return false;
      refusals--;
      const trailers = new grpc.Metadata();
      if (refusals === 1) trailers.set("grpc-retry-pushback-ms", "120");
      callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: "slow down", metadata: trailers } as grpc.ServiceError);
      return true;
    });
    stops.push(server.stop);
    server.data.set("a", "1");
    const waits: number[] = [];
    const client = createClient(new GrpcTransport({ target: server.target })).use(retry({ maxAttempts: 5, onRetry: (event) => waits.push(event.delayMs) }));
    const first = await client.call("KeyValue", "Get", { key: "a" });
    expect(waits).to.deep.equal([120]); // the hinted wait; the second refusal has no hint: no retry
    expect(first.status).to.equal(Status.RESOURCE_EXHAUSTED);
    expect((await client.call("KeyValue", "Get", { key: "a" })).status).to.equal(Status.OK);
    await client.close();
  });

  it("refuses a method the .proto does not have, and streaming methods, with UNIMPLEMENTED", async () => {
    const client = createClient(new GrpcTransport({ target: "127.0.0.1:1" }));
    expect((await client.call("KeyValue", "Nope", {})).status).to.equal(Status.UNIMPLEMENTED);
    expect((await client.call("KeyValue", "Scan", {})).status).to.equal(Status.UNIMPLEMENTED);
    await client.close();
  });

  it("answers UNAVAILABLE when no server listens", async () => {
    const client = createClient(new GrpcTransport({ target: "127.0.0.1:1" })).use(deadline({ timeoutMs: 2000 }));
    expect((await client.call("KeyValue", "Get", { key: "a" })).status).to.equal(Status.UNAVAILABLE);
    await client.close();
  });
});
