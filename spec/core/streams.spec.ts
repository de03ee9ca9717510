import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import { CallKind } from "../../lib/core/call-kind.js";
import { CallContext } from "../../lib/core/context.js";
import type { Next } from "../../lib/core/middleware.js";
import { bidi, clientStream, defineService, router, serverStream } from "../../lib/core/service.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { createClient } from "../../lib/client/client.js";
import { InProcessTransport } from "../../lib/client/transports/in-process-transport.js";
import { logging } from "../../middleware/logging.js";
import { captureLogger } from "../support/log-capture.js";

// The four kinds of call through one Application, driven by the in-process client.

const tick = (ms = 1): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What the test handlers did, for the specs to check. */
interface Trace {
  produced: number[];
  abortedSeen: boolean;
  finallyRan: boolean;
  pulled: number;
}

/** An async iterable the spec feeds by hand: `push()` a message, `end()` for the half-close. */
function feed(): { messages: AsyncIterable<unknown>; push(message: unknown): void; end(): void; readonly pulled: number } {
  const queue: unknown[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let pulled = 0;
  return {
    messages: (async function* () {
      for (;;) {
        while (queue.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
        if (queue.length === 0) return;
        pulled++;
        yield queue.shift();
      }
    })(),
    push(message) {
      queue.push(message);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    get pulled() {
      return pulled;
    },
  };
}

function testApp(trace: Trace) {
  const service = defineService("Test", {
    Echo: (request: unknown) => request,
    Count: serverStream(async function* (request, ctx) {
      const { n, failAt, delayMs } = request as { n: number; failAt?: number; delayMs?: number };
      try {
        for (let i = 0; i < n; i++) {
          if (ctx.signal.aborted) {
            trace.abortedSeen = true;
            return;
          }
          if (i === failAt) throw new StatusError(Status.DATA_LOSS, `lost at ${i}`);
          if (delayMs !== undefined) await tick(delayMs);
          trace.produced.push(i);
          yield { i };
        }
      } finally {
        trace.finallyRan = true;
      }
    }),
    Sum: clientStream(async (requests, ctx) => {
      let total = 0;
      try {
        for await (const request of requests) {
          const { x, stallAt } = request as { x: number; stallAt?: boolean };
          trace.pulled++;
          if (x < 0) throw new StatusError(Status.INVALID_ARGUMENT, "negative");
          if (stallAt === true) await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
          total += x;
        }
      } catch (error) {
        trace.abortedSeen = ctx.signal.aborted;
        throw error;
      } finally {
        trace.finallyRan = true;
      }
      return { total };
    }),
    Double: bidi(async function* (requests) {
      for await (const request of requests) {
        const { x } = request as { x: number };
        if (x < 0) throw new Error(`bug at ${x}`);
        trace.produced.push(x);
        yield { y: 2 * x };
      }
    }),
  });
  const log = captureLogger();
  const app = new Application({ onError: () => undefined }).use(logging({ logger: log.logger })).handle(router([service]));
  return { app, log, client: createClient(new InProcessTransport(app, { peer: "c1" })) };
}

const newTrace = (): Trace => ({ produced: [], abortedSeen: false, finallyRan: false, pulled: 0 });

async function collect(stream: AsyncIterable<unknown>): Promise<{ messages: unknown[]; error: unknown }> {
  const messages: unknown[] = [];
  try {
    for await (const message of stream) messages.push(message);
    return { messages, error: undefined };
  } catch (error) {
    return { messages, error };
  }
}

describe("streaming calls through Application.run()", () => {
  describe("server streaming", () => {
    it("delivers the messages in order; await next() returns after the last one, with the status", async () => {
      const trace = newTrace();
      const { client, log } = testApp(trace);
      const call = client.serverStream("Test", "Count", { n: 4 });
      const { messages, error } = await collect(call);
      expect([messages, error]).to.deep.equal([[{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }], undefined]);
      const result = await call.result;
      expect([result.status, result.response, result.interceptorsApplied]).to.deep.equal([Status.OK, undefined, ["logging"]]);
      expect(log.records()).to.have.length(1);
      expect(log.records()[0]).to.deep.include({ service: "Test", method: "Count", status: "OK", received: 1, sent: 4 });
    });

    it("breaking out of for await cancels the call: the handler sees the abort and produces nothing after it", async () => {
      const trace = newTrace();
      const { client, log } = testApp(trace);
      const call = client.serverStream("Test", "Count", { n: 1_000_000, delayMs: 1 });
      let read = 0;
      for await (const _ of call) if (++read === 3) break;
      const result = await call.result;
      expect(result.status).to.equal(Status.CANCELLED);
      await tick(10);
      expect(trace.finallyRan, "the generator was returned").to.equal(true);
      // At most the message in flight when the reader left was produced after it.
      expect(trace.produced.length).to.be.at.most(read + 1);
      const line = log.records()[0];
      expect(line).to.deep.include({ status: "CANCELLED", received: 1 });
      expect(line?.["sent"]).to.be.at.most(read + 1);
    });

    it("a handler that checks ctx.signal.aborted stops by itself on cancel", async () => {
      const trace = newTrace();
      const { client } = testApp(trace);
      const controller = new AbortController();
      const call = client.serverStream("Test", "Count", { n: 1_000_000, delayMs: 2 }, { signal: controller.signal });
      const reading = collect(call);
      await tick(15);
      controller.abort();
      const { error } = await reading;
      expect((error as StatusError).code).to.equal(Status.CANCELLED);
      await tick(10);
      expect(trace.finallyRan).to.equal(true);
      const produced = trace.produced.length;
      await tick(10);
      expect(trace.produced.length, "nothing produced after the abort").to.equal(produced);
    });

    it("ends DEADLINE_EXCEEDED mid-stream when grpc-timeout passes; the handler sees the abort", async () => {
      const trace = newTrace();
      const { client, log } = testApp(trace);
      const call = client.serverStream("Test", "Count", { n: 1_000_000, delayMs: 2 }, { metadata: { "grpc-timeout": "30m" } });
      const { messages, error } = await collect(call);
      expect(messages.length).to.be.above(0);
      expect((error as StatusError).code).to.equal(Status.DEADLINE_EXCEEDED);
      expect((await call.result).status).to.equal(Status.DEADLINE_EXCEEDED);
      await tick(10);
      expect(trace.finallyRan).to.equal(true);
      expect(log.records()[0]).to.deep.include({ status: "DEADLINE_EXCEEDED" });
    });

    it("an error the generator throws on message N is the call's status, attributed to the handler", async () => {
      const trace = newTrace();
      const { client, log } = testApp(trace);
      const call = client.serverStream("Test", "Count", { n: 10, failAt: 3 });
      const { messages, error } = await collect(call);
      expect(messages).to.deep.equal([{ i: 0 }, { i: 1 }, { i: 2 }]);
      expect((error as StatusError).code).to.equal(Status.DATA_LOSS);
      const result = await call.result;
      expect([result.status, result.interceptorFailed]).to.deep.equal([Status.DATA_LOSS, undefined]);
      expect(log.records()[0]).to.deep.include({ status: "DATA_LOSS", sent: 3 });
    });

    it("back-pressure: a reader that stops reading holds the producer one message ahead", async () => {
      const trace = newTrace();
      const { client } = testApp(trace);
      const call = client.serverStream("Test", "Count", { n: 1_000_000 });
      const iterator = call[Symbol.asyncIterator]();
      await iterator.next();
      await iterator.next();
      await tick(30);
      expect(trace.produced.length, "produced while the reader stalls").to.be.at.most(4);
      await iterator.return?.();
      expect((await call.result).status).to.equal(Status.CANCELLED);
    });
  });

  describe("client streaming", () => {
    it("reads the requests in order; answers once the client half-closes", async () => {
      const trace = newTrace();
      const { client, log } = testApp(trace);
      const requests = feed();
      const answer = client.clientStream("Test", "Sum", requests.messages);
      let answered = false;
      void answer.then(() => (answered = true));
      for (const x of [1, 2, 3]) requests.push({ x });
      await tick(5);
      expect([trace.pulled, answered], "all read, no answer before the half-close").to.deep.equal([3, false]);
      requests.end();
      const result = await answer;
      expect([result.status, result.response]).to.deep.equal([Status.OK, { total: 6 }]);
      expect(log.records()[0]).to.deep.include({ method: "Sum", status: "OK", received: 3, sent: 1 });
    });

    it("cancel mid-stream: the handler's read fails with CANCELLED and its finally runs", async () => {
      const trace = newTrace();
      const { client, log } = testApp(trace);
      const requests = feed();
      const controller = new AbortController();
      const answer = client.clientStream("Test", "Sum", requests.messages, { signal: controller.signal });
      requests.push({ x: 1 });
      await tick(5);
      controller.abort();
      expect((await answer).status).to.equal(Status.CANCELLED);
      await tick(5);
      expect([trace.abortedSeen, trace.finallyRan]).to.deep.equal([true, true]);
      expect(log.records()[0]).to.deep.include({ status: "CANCELLED", received: 1, sent: 0 });
    });

    it("deadline mid-stream: a client that never half-closes ends DEADLINE_EXCEEDED", async () => {
      const trace = newTrace();
      const { client } = testApp(trace);
      const requests = feed();
      requests.push({ x: 1 });
      const result = await client.clientStream("Test", "Sum", requests.messages, { timeoutMs: 30 });
      expect(result.status).to.equal(Status.DEADLINE_EXCEEDED);
      await tick(5);
      expect(trace.finallyRan).to.equal(true);
    });

    it("an error on message N is the call's status; the handler stops reading there", async () => {
      const trace = newTrace();
      const { client, log } = testApp(trace);
      const requests = feed();
      for (const x of [1, 2, -1, 4]) requests.push({ x });
      requests.end();
      const result = await client.clientStream("Test", "Sum", requests.messages);
      expect([result.status, result.interceptorFailed, trace.pulled]).to.deep.equal([Status.INVALID_ARGUMENT, undefined, 3]);
      expect(log.records()[0]).to.deep.include({ status: "INVALID_ARGUMENT", received: 3, sent: 0 });
    });

    it("back-pressure: requests are pulled only as the handler reads them", async () => {
      const trace = newTrace();
      const { client } = testApp(trace);
      let made = 0;
      const controller = new AbortController();
      const endless = (async function* () {
        for (;;) {
          made++;
          yield made === 2 ? { x: 1, stallAt: true } : { x: 1 };
        }
      })();
      const answer = client.clientStream("Test", "Sum", endless, { signal: controller.signal });
      await tick(20);
      expect(made, "the client made only what the stalled handler read").to.equal(2);
      controller.abort();
      expect((await answer).status).to.equal(Status.CANCELLED);
    });
  });

  describe("bidirectional streaming", () => {
    it("answers each request as it is read, in order, before the half-close", async () => {
      const trace = newTrace();
      const { client, log } = testApp(trace);
      const requests = feed();
      const call = client.bidi("Test", "Double", requests.messages);
      const iterator = call[Symbol.asyncIterator]();
      requests.push({ x: 1 });
      expect((await iterator.next()).value).to.deep.equal({ y: 2 });
      requests.push({ x: 5 });
      expect((await iterator.next()).value).to.deep.equal({ y: 10 });
      requests.end();
      expect((await iterator.next()).done).to.equal(true);
      expect((await call.result).status).to.equal(Status.OK);
      expect(log.records()[0]).to.deep.include({ method: "Double", status: "OK", received: 2, sent: 2 });
    });

    it("cancel mid-stream ends the call CANCELLED; nothing is produced after it", async () => {
      const trace = newTrace();
      const { client } = testApp(trace);
      const requests = feed();
      const call = client.bidi("Test", "Double", requests.messages);
      const iterator = call[Symbol.asyncIterator]();
      requests.push({ x: 1 });
      await iterator.next();
      await iterator.return?.();
      requests.push({ x: 2 });
      expect((await call.result).status).to.equal(Status.CANCELLED);
      await tick(5);
      expect(trace.produced).to.deep.equal([1]);
    });

    it("deadline mid-stream: DEADLINE_EXCEEDED after the messages sent in time", async () => {
      const trace = newTrace();
      const { client } = testApp(trace);
      const requests = feed();
      const call = client.bidi("Test", "Double", requests.messages, { timeoutMs: 30 });
      requests.push({ x: 3 });
      const { messages, error } = await collect(call);
      expect(messages).to.deep.equal([{ y: 6 }]);
      expect((error as StatusError).code).to.equal(Status.DEADLINE_EXCEEDED);
    });

    it("back-pressure: a reader that stops reading stops the handler, which stops pulling requests", async () => {
      const trace = newTrace();
      const { client } = testApp(trace);
      let made = 0;
      const endless = (async function* () {
        for (;;) yield { x: ++made };
      })();
      const call = client.bidi("Test", "Double", endless);
      const iterator = call[Symbol.asyncIterator]();
      await iterator.next();
      await tick(20);
      expect(trace.produced.length, "answers produced while the reader stalls").to.be.at.most(3);
      expect(made, "requests pulled while the reader stalls").to.be.at.most(4);
      await iterator.return?.();
      expect((await call.result).status).to.equal(Status.CANCELLED);
    });

    it("an error thrown on message N is INTERNAL for the caller, attributed to the handler, logged once", async () => {
      const trace = newTrace();
      const faults: string[] = [];
      const service = defineService("Test", {
        Double: bidi(async function* (requests) {
          for await (const request of requests) {
            if ((request as { x: number }).x < 0) throw new Error("bug");
            yield request;
          }
        }),
      });
      const app = new Application({ onError: (_error, _ctx, at) => void faults.push(at) }).handle(router([service]));
      const client = createClient(new InProcessTransport(app));
      const requests = feed();
      for (const x of [1, 2, -3]) requests.push({ x });
      const call = client.bidi("Test", "Double", requests.messages);
      const { messages, error } = await collect(call);
      expect(messages).to.have.length(2);
      expect((error as StatusError).code).to.equal(Status.INTERNAL);
      expect([faults, trace.produced]).to.deep.equal([["handler"], []]);
    });
  });

  describe("unary, through the same pipeline", () => {
    it("logs one message each way", async () => {
      const { client, log } = testApp(newTrace());
      expect((await client.call("Test", "Echo", { a: 1 })).response).to.deep.equal({ a: 1 });
      expect(log.records()[0]).to.deep.include({ method: "Echo", status: "OK", received: 1, sent: 1 });
    });

    it("a handler that finishes after its deadline ends DEADLINE_EXCEEDED, its response dropped", async () => {
      const service = defineService("Slow", {
        Get: async (_request: unknown, ctx: CallContext) => {
          await tick(30);
          return { aborted: ctx.signal.aborted };
        },
      });
      const app = new Application().handle(router([service]));
      const ctx = new CallContext({ service: "Slow", method: "Get", request: {}, peer: "p", metadata: { "grpc-timeout": "5m" } });
      await app.run(ctx);
      expect([ctx.status, ctx.responseToSend, ctx.signal.aborted]).to.deep.equal([Status.DEADLINE_EXCEEDED, undefined, true]);
    });

    it("a call cancelled before its handler is not handled (a Put is not applied after the caller gave up)", async () => {
      let handled = false;
      const app = new Application()
        .use(async function slow(_ctx: CallContext, next: Next) {
          await tick(20);
          await next();
        })
        .handle(() => void (handled = true));
      const ctx = new CallContext({ service: "KeyValue", method: "Put", request: {}, peer: "p", metadata: { "grpc-timeout": "5m" } });
      await app.run(ctx);
      expect([ctx.status, handled]).to.deep.equal([Status.DEADLINE_EXCEEDED, false]);
    });
  });

  describe("the call model's edges", () => {
    it("a method called as another kind than its own is UNIMPLEMENTED", async () => {
      const { client } = testApp(newTrace());
      expect((await client.call("Test", "Count", { n: 1 })).status).to.equal(Status.UNIMPLEMENTED);
      expect((await collect(client.serverStream("Test", "Echo", {}))).error).to.have.property("code", Status.UNIMPLEMENTED);
    });

    it("a grpc-timeout beyond what a Node timer holds (99999999S) is no deadline, not an instant DEADLINE_EXCEEDED", async () => {
      const app = new Application().handle(async (ctx) => {
        await tick(10);
        ctx.response = { aborted: ctx.signal.aborted };
      });
      const ctx = new CallContext({ service: "Test", method: "Slow", request: {}, peer: "p", metadata: { "grpc-timeout": "99999999S" } });
      await app.run(ctx);
      expect([ctx.status, ctx.response]).to.deep.equal([Status.OK, { aborted: false }]);
    });

    it("a malformed grpc-timeout is INVALID_ARGUMENT before any middleware runs", async () => {
      const { app, log } = testApp(newTrace());
      const ctx = new CallContext({ service: "Test", method: "Echo", request: {}, peer: "p", metadata: { "grpc-timeout": "1.5S" } });
      await app.run(ctx);
      expect([ctx.status, ctx.applied, ctx.interceptorFailed, log.lines]).to.deep.equal([Status.INVALID_ARGUMENT, [], undefined, []]);
    });

    it("Application.shutdown() cancels the open streams with UNAVAILABLE and refuses new calls", async () => {
      const trace = newTrace();
      const { app, client } = testApp(trace);
      const call = client.serverStream("Test", "Count", { n: 1_000_000, delayMs: 2 });
      const reading = collect(call);
      await tick(10);
      await app.shutdown();
      expect(((await reading).error as StatusError).code).to.equal(Status.UNAVAILABLE);
      expect(trace.finallyRan).to.equal(true);
      expect((await client.call("Test", "Echo", {})).status).to.equal(Status.UNAVAILABLE);
    });

    it("a host that runs a streaming-response call without send() gets INTERNAL, not a hang", async () => {
      const { app } = testApp(newTrace());
      const ctx = new CallContext({ service: "Test", method: "Count", request: { n: 1 }, peer: "p", kind: CallKind.SERVER_STREAM });
      await app.run(ctx);
      expect(ctx.status).to.equal(Status.INTERNAL);
    });
  });
});

describe("CallContext#wrapRequest() / #wrapResponse()", () => {
  it("let a middleware see and change every message both ways, outermost seeing requests first and responses last", async () => {
    const seen: string[] = [];
    const tap = (name: string) =>
      async function tapping(ctx: CallContext, next: Next): Promise<void> {
        ctx.wrapRequest(async function* (messages) {
          for await (const message of messages) {
            seen.push(`${name} in ${JSON.stringify(message)}`);
            yield message;
          }
        });
        ctx.wrapResponse(async function* (messages) {
          for await (const message of messages) {
            seen.push(`${name} out ${JSON.stringify(message)}`);
            yield { ...(message as object), [name]: true };
          }
        });
        await next();
        seen.push(`${name} done ${ctx.status}`);
      };
    const service = defineService("Test", { Echo: bidi(async function* (requests) { for await (const request of requests) yield request; }) });
    const app = new Application().use(tap("outer"), { name: "outer" }).use(tap("inner"), { name: "inner" }).handle(router([service]));
    const client = createClient(new InProcessTransport(app));
    const { messages } = await collect(client.bidi("Test", "Echo", (async function* () { yield { m: 1 }; })()));
    expect(messages).to.deep.equal([{ m: 1, inner: true, outer: true }]);
    expect(seen).to.deep.equal(['outer in {"m":1}', 'inner in {"m":1}', 'inner out {"m":1}', 'outer out {"m":1,"inner":true}', "inner done OK", "outer done OK"]);
  });

  it("an error a wrapper throws itself fails the call as that middleware's", async () => {
    const service = defineService("Test", { Sum: clientStream(async (requests) => { for await (const _ of requests); return {}; }) });
    const app = new Application()
      .use(async function picky(ctx: CallContext, next: Next) {
        ctx.wrapRequest(async function* (messages) {
          for await (const message of messages) {
            if ((message as { bad?: boolean }).bad === true) throw new StatusError(Status.FAILED_PRECONDITION, "bad message");
            yield message;
          }
        });
        await next();
      })
      .handle(router([service]));
    const client = createClient(new InProcessTransport(app));
    const result = await client.clientStream("Test", "Sum", (async function* () { yield {}; yield { bad: true }; })());
    expect([result.status, result.interceptorFailed]).to.deep.equal([Status.FAILED_PRECONDITION, "picky"]);
  });

  it("are no-ops for a unary call", async () => {
    const app = new Application()
      .use(async function wraps(ctx: CallContext, next: Next) {
        ctx.wrapRequest(() => {
          throw new Error("not for unary");
        });
        ctx.wrapResponse(() => {
          throw new Error("not for unary");
        });
        await next();
      })
      .handle((ctx) => void (ctx.response = { ok: true }));
    const ctx = new CallContext({ service: "S", method: "M", request: {}, peer: "p" });
    await app.run(ctx);
    expect([ctx.status, ctx.response]).to.deep.equal([Status.OK, { ok: true }]);
  });
});

describe("a streamed request the handler leaves unread", () => {
  it("is closed when the call ends: the client's request generator runs its finally", async () => {
    let closed = false;
    const requests = (async function* () {
      try {
        for (let i = 0; ; i++) yield { x: i };
      } finally {
        closed = true;
      }
    })();
    const service = defineService("Test", {
      First: clientStream(async (messages) => {
        const iterator = messages[Symbol.asyncIterator]();
        return (await iterator.next()).value;
      }),
    });
    const client = createClient(new InProcessTransport(new Application().handle(router([service]))));
    const result = await client.clientStream("Test", "First", requests);
    expect([result.status, result.response]).to.deep.equal([Status.OK, { x: 0 }]);
    await tick(1);
    expect(closed).to.equal(true);
  });
});
