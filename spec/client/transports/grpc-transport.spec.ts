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

  it("refuses a method the .proto does not have, and a method called as another kind than its own, with UNIMPLEMENTED", async () => {
    const client = createClient(new GrpcTransport({ target: "127.0.0.1:1" }));
    expect((await client.call("KeyValue", "Nope", {})).status).to.equal(Status.UNIMPLEMENTED);
    expect((await client.call("KeyValue", "Scan", {})).status).to.equal(Status.UNIMPLEMENTED);
    const scan = await client.serverStream("KeyValue", "Get", {}).result;
    expect([scan.status, scan.error?.message]).to.deep.equal([Status.UNIMPLEMENTED, "KeyValue/Get is a unary method, called as server_stream"]);
    await client.close();
  });

  it("close(): later calls of every kind are UNAVAILABLE", async () => {
    const client = createClient(new GrpcTransport({ target: "127.0.0.1:1" }));
    await client.close();
    expect((await client.call("KeyValue", "Get", { key: "a" })).status).to.equal(Status.UNAVAILABLE);
    expect((await client.serverStream("KeyValue", "Scan", {}).result).status).to.equal(Status.UNAVAILABLE);
  });

  it("answers UNAVAILABLE when no server listens", async () => {
    const client = createClient(new GrpcTransport({ target: "127.0.0.1:1" })).use(deadline({ timeoutMs: 2000 }));
    expect((await client.call("KeyValue", "Get", { key: "a" })).status).to.equal(Status.UNAVAILABLE);
    await client.close();
  });
});

/** A plain grpc-js server of KeyValue's streaming methods over a Map, recording what it produced and whether each call saw its cancel. */
async function plainStreamingServer() {
  const data = new Map<string, string>();
  const calls: { method: string; metadata: Record<string, unknown>; produced: number; cancelled: boolean }[] = [];
  const definition = loader.loadSync(KEYVALUE_PROTO, { keepCase: true, defaults: true, oneofs: true });
  const service = (grpc.loadPackageDefinition(definition) as unknown as { keyvalue: { v1: { KeyValue: { service: grpc.ServiceDefinition } } } }).keyvalue.v1.KeyValue.service;
  const record = (method: string, call: { readonly metadata: grpc.Metadata; on(event: "cancelled", listener: () => void): unknown }) => {
    const seen = { method, metadata: call.metadata.getMap(), produced: 0, cancelled: false };
    call.on("cancelled", () => (seen.cancelled = true));
    calls.push(seen);
    return seen;
  };
  const server = new grpc.Server();
  server.addService(service, {
    // `limit` entries k00000, k00001, ... produced as the client reads them (write() false: wait for 'drain').
    async Scan(call: grpc.ServerWritableStream<{ limit: number }, unknown>) {
      const seen = record("Scan", call);
      for (let i = 0; i < call.request.limit && !seen.cancelled; i++) {
        seen.produced++;
        if (!call.write({ key: `k${String(i).padStart(5, "0")}`, value: "v".repeat(1000) })) await new Promise((resolve) => call.once("drain", resolve).once("cancelled", resolve));
      }
      if (!seen.cancelled) call.end();
    },
    // Never ends by itself.
    Watch(call: grpc.ServerWritableStream<unknown, unknown>) {
      record("Watch", call);
    },
    PutMany(call: grpc.ServerReadableStream<{ key: string; value: string }, unknown>, callback: Callback) {
      const seen = record("PutMany", call);
      let written = 0;
      call.on("data", ({ key, value }: { key: string; value: string }) => {
        data.set(key, value);
        written++;
        seen.produced++;
      });
      call.on("end", () => callback(null, { written }));
    },
    Batch(call: grpc.ServerDuplexStream<{ op?: string; put?: { key: string; value: string }; get?: { key: string } }, unknown>) {
      record("Batch", call);
      call.on("data", (operation: { op?: string; put?: { key: string; value: string }; get?: { key: string } }) => {
        if (operation.put !== undefined && operation.put !== null) {
          data.set(operation.put.key, operation.put.value);
          call.write({ code: grpc.status.OK, put: { written: true } });
        } else if (operation.get !== undefined && operation.get !== null && data.has(operation.get.key)) {
          call.write({ code: grpc.status.OK, get: { key: operation.get.key, value: data.get(operation.get.key), found: true } });
        } else call.write({ code: grpc.status.NOT_FOUND });
      });
      call.on("end", () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { target: `127.0.0.1:${port}`, calls, data, stop: () => server.forceShutdown() };
}

const until = async (done: () => boolean) => {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
};

describe("GrpcTransport streams", () => {
  const stops: (() => void)[] = [];
  afterEach(() => stops.splice(0).forEach((stop) => stop()));
  const connect = async () => {
    const server = await plainStreamingServer();
    stops.push(server.stop);
    const client = createClient(new GrpcTransport({ target: server.target })).use(credentials({ token: "s3cret" }));
    return { server, client };
  };

  it("serverStream() reads a plain grpc-js server's stream in order, through the outbound middleware, and ends OK", async () => {
    const { server, client } = await connect();
    const scan = client.serverStream("KeyValue", "Scan", { limit: 3 });
    const keys: string[] = [];
    for await (const entry of scan) keys.push((entry as { key: string }).key);
    expect(keys).to.deep.equal(["k00000", "k00001", "k00002"]);
    expect((await scan.result).status).to.equal(Status.OK);
    expect(server.calls[0]?.metadata["authorization"]).to.equal("Bearer s3cret");
    await client.close();
  });

  it("breaking out of a for await over serverStream() cancels the call on the server, which stops producing", async () => {
    const { server, client } = await connect();
    const scan = client.serverStream("KeyValue", "Scan", { limit: 100_000 });
    let read = 0;
    for await (const _entry of scan) if (++read === 5) break;
    expect((await scan.result).status).to.equal(Status.CANCELLED);
    await until(() => server.calls[0]?.cancelled === true);
    expect(server.calls[0]?.cancelled).to.equal(true);
    const produced = server.calls[0]!.produced;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.calls[0]!.produced).to.equal(produced); // nothing after the cancel
    expect(produced).to.be.below(1000); // flow control held it a window ahead of the reader, not the whole scan
    await client.close();
  });

  it("an AbortSignal cancels a server stream on the server; a deadline ends it DEADLINE_EXCEEDED", async () => {
    const { server, client } = await connect();
    const controller = new AbortController();
    const watch = client.serverStream("KeyValue", "Watch", {}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await watch.result).status).to.equal(Status.CANCELLED);
    await until(() => server.calls[0]?.cancelled === true);
    expect(server.calls[0]?.cancelled).to.equal(true);
    const timed = client.serverStream("KeyValue", "Watch", {}, { timeoutMs: 100 });
    expect((await timed.result).status).to.equal(Status.DEADLINE_EXCEEDED);
    await client.close();
  });

  it("clientStream() sends every request, half-closes, and answers the server's one response", async () => {
    const { server, client } = await connect();
    async function* puts() {
      for (const key of ["a", "b", "c"]) yield { key, value: key.toUpperCase() };
    }
    const result = await client.clientStream("KeyValue", "PutMany", puts());
    expect([result.status, result.response]).to.deep.equal([Status.OK, { written: 3 }]);
    expect([...server.data]).to.deep.equal([["a", "A"], ["b", "B"], ["c", "C"]]);
    await client.close();
  });

  it("bidi() gets each answer before sending the next request (before the half-close)", async () => {
    const { client } = await connect();
    const answers: unknown[] = [];
    let answered: (() => void) | undefined;
    const next = () => new Promise<void>((resolve) => (answered = resolve));
    async function* operations() {
      let waiting = next();
      yield { put: { key: "k", value: "v" } };
      await waiting; // the put's answer has arrived while the stream is still open
      waiting = next();
      yield { get: { key: "k" } };
      await waiting;
      yield { get: { key: "missing" } };
    }
    const batch = client.bidi("KeyValue", "Batch", operations());
    for await (const answer of batch) {
      answers.push(answer);
      answered?.();
    }
    expect(answers.map((a) => (a as { code: number }).code)).to.deep.equal([grpc.status.OK, grpc.status.OK, grpc.status.NOT_FOUND]);
    expect((answers[1] as { get: unknown }).get).to.deep.equal({ key: "k", value: "v", found: true });
    expect((await batch.result).status).to.equal(Status.OK);
    await client.close();
  });
});
