import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import { Application } from "../../../lib/core/application.js";
import { bidi, clientStream, defineService, router, serverStream } from "../../../lib/core/service.js";
import { StdioHost } from "../../../lib/hosts/stdio/stdio-host.js";
import { logging } from "../../../middleware/logging.js";
import { captureLogger } from "../../support/log-capture.js";
import { init, parseReply } from "../../support/messages.js";
import { streamCancel, streamEnd, streamMsg } from "../../support/stream-messages.js";

/** Opens a call to the spec's own `Spec` service. */
const openSpec = (msgId: number, method: string, kind: string, request?: unknown): string =>
  JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_stream_open", msg_id: msgId, service: "Spec", method, kind, ...(request === undefined ? {} : { request }), metadata: {} } });

/** What the handlers saw, for the specs to check. */
const seen = { stoppedAt: -1, aborted: "" };

const spec = defineService("Spec", {
  // Throws on request message 3.
  FailOnThird: bidi(async function* (requests) {
    let n = 0;
    for await (const message of requests) {
      if (++n === 3) throw new Error("bad third message");
      yield { echo: message };
    }
  }),
  // Never reads its requests.
  Stall: clientStream(async (_requests, ctx) => {
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
    return {};
  }),
  // Counts as fast as it is pulled, noting where it stopped and why.
  Count: serverStream(async function* (_request, ctx) {
    ctx.signal.addEventListener("abort", () => (seen.aborted = String((ctx.signal.reason as { code?: string }).code)), { once: true });
    for (let i = 0; ; i++) {
      seen.stoppedAt = i;
      yield { i };
    }
  }),
});

/** A StdioHost over logging and the Spec service, its output kept; `writable` says what write() returns. */
function specHost(maxQueuedRequests?: number) {
  const log = captureLogger("info");
  const app = new Application({ onError: () => {} }).use(logging({ logger: log.logger })).handle(router([spec]));
  const chunks: string[] = [];
  let writable = true;
  const host = new StdioHost({ app, logger: log.logger, write: (chunk) => (chunks.push(chunk), writable), ...(maxQueuedRequests === undefined ? {} : { maxQueuedRequests }) });
  const feed = (lines: readonly string[]): void => lines.forEach((line, i) => host.handleLine(line, i + 1));
  const bodies = () => chunks.join("").split("\n").filter((line) => line !== "").map((line) => parseReply(line).body);
  return { host, log, feed, bodies, setWritable: (value: boolean) => (writable = value) };
}

describe("StdioStreams (grpc_stream_* in the stdio host)", () => {
  beforeEach(() => {
    seen.stoppedAt = -1;
    seen.aborted = "";
  });

  it("an error thrown on message 3 is the call's status (INTERNAL), after the two answers, attributed to the handler", async () => {
    const { host, feed, bodies, log } = specHost();
    feed([init(), openSpec(2, "FailOnThird", "bidi"), streamMsg(3, 2, 1), streamMsg(4, 2, 2), streamMsg(5, 2, 3), streamMsg(6, 2, 4)]);
    await sleep(20);
    await host.close();
    expect(bodies().slice(1)).to.deep.equal([
      { type: "grpc_stream_msg", in_reply_to: 2, message: { echo: 1 }, msg_id: 1 },
      { type: "grpc_stream_msg", in_reply_to: 2, message: { echo: 2 }, msg_id: 2 },
      { type: "grpc_stream_close", in_reply_to: 2, status: "INTERNAL", interceptors_applied: ["logging"], msg_id: 3 },
    ]);
    expect(log.records().find((record) => record["msg"] === "call")).to.deep.include({ status: "INTERNAL", received: 3, sent: 2 });
    expect(host.outbox.pending, "no request message left counted").to.equal(0);
  });

  it("request messages past maxQueuedRequests unread end the call RESOURCE_EXHAUSTED", async () => {
    const { host, feed, bodies } = specHost(4);
    feed([init(), openSpec(2, "Stall", "client_stream")]);
    await sleep(10);
    feed([2, 3, 4, 5].map((n) => streamMsg(n + 1, 2, n)));
    expect(host.outbox.pending, "unread request messages count as pending work").to.equal(4);
    feed([streamMsg(7, 2, 6)]);
    await sleep(10);
    expect(bodies().at(-1)).to.deep.include({ type: "grpc_stream_close", in_reply_to: 2, status: "RESOURCE_EXHAUSTED" });
    expect(host.outbox.pending).to.equal(0);
  });

  it("a congested output holds a producer to one message until resumeWriting(); cancel then stops it", async () => {
    const { host, feed, bodies, setWritable } = specHost();
    setWritable(false);
    feed([init(), openSpec(2, "Count", "server_stream", {})]);
    await sleep(50);
    const produced = seen.stoppedAt;
    // The 64 KiB batch that hit the congested output, and one message more.
    expect(produced, "messages produced while congested").to.be.below(3000);
    await sleep(50);
    expect(seen.stoppedAt, "nothing more while congested").to.equal(produced);
    setWritable(true);
    host.outbox.resumeWriting();
    await sleep(20);
    expect(seen.stoppedAt).to.be.above(produced);
    feed([streamCancel(10, 2)]);
    await host.close();
    const stopped = seen.stoppedAt;
    const out = bodies();
    expect(out.at(-1)).to.deep.include({ type: "grpc_stream_close", status: "CANCELLED" });
    expect(seen.aborted).to.equal("CANCELLED");
    expect(out.filter((body) => body.type === "grpc_stream_msg")).to.have.length(stopped + 1);
    const ids = out.map((body) => body.msg_id);
    expect(ids).to.deep.equal(ids.map((_, i) => i));
  });

  it("a half-close, a message or a cancel for a stream that is not open is ignored; a reused open id is refused with error 12", async () => {
    const { host, feed, bodies } = specHost();
    feed([init(), streamMsg(2, 99, 1), streamEnd(3, 99), streamCancel(4, 99), openSpec(5, "Stall", "client_stream"), openSpec(5, "Stall", "client_stream")]);
    await sleep(10);
    feed([streamCancel(6, 5)]);
    await host.close();
    expect(bodies().slice(1).map((body) => [body.type, body.in_reply_to, body["code"] ?? body["status"]])).to.deep.equal([
      ["error", 5, 12],
      ["grpc_stream_close", 5, "CANCELLED"],
    ]);
  });
});
