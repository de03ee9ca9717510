import type { Application } from "../../core/application.js";
import { CallKind, streamsRequests } from "../../core/call-kind.js";
import { CallContext } from "../../core/context.js";
import { type CallLimits, metadataOverLimits } from "../../core/limits.js";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import type { Logger } from "../../logging/logger.js";
import type { Outbox } from "./outbox.js";
import { dumps, type RawJson, stringListDumper } from "./python-json.js";
import { callOutcomeOf } from "./replies.js";
import { RequestQueue } from "./request-queue.js";
import type { Stats } from "./stats.js";
import { closeText, isStreamKind, responseMessageText, StreamMessage } from "./stream-messages.js";

/** Options of {@link StdioStreams}. */
export interface StdioStreamsOptions {
  readonly app: Application;
  readonly outbox: Outbox;
  readonly logger: Logger;
  /** Counts each stream once, when its close is written, as the host counts a grpc_call. */
  readonly stats: Stats;
  readonly limits: CallLimits;
  /**
   * Answers a call over the metadata limits as the host answers a grpc_call over them (the
   * credential check first, then RESOURCE_EXHAUSTED with no interceptor applied). Default:
   * RESOURCE_EXHAUSTED at once.
   */
  readonly refuseOverLimits?: (ctx: CallContext) => Promise<void>;
  /**
   * Request messages of one stream read from stdin and not yet taken by its handler; one more
   * ends the call RESOURCE_EXHAUSTED. Default 16,384: above bin/node's MAX_IN_FLIGHT default
   * (10,000), whose pause of stdin (these messages count as pending) comes first.
   */
  readonly maxQueuedRequests?: number;
}

/** One open stream. */
interface OpenStream {
  readonly ctx: CallContext;
  /** The request messages, for client_stream and bidi. */
  readonly requests: RequestQueue | undefined;
  /** Settles when the close has been written. */
  readonly closed: Promise<void>;
}

/** Maelstrom's "malformed request": an open reusing the id of a stream still open. */
const MALFORMED_REQUEST = 12;

/**
 * The streaming calls of a stdio node (docs/streams-protocol.md): opens each `grpc_stream_open`
 * as a call of its kind through the application, feeds it the `grpc_stream_msg`s, half-closes it
 * at `grpc_stream_end`, cancels it at `grpc_stream_cancel`, and writes its response messages and
 * its close through the outbox's {@link Outbox.sendNow}: outside the arrival order of the unary
 * replies, so an open stream holds none of them back, and each stream's own messages in the
 * order produced, its close after its last message.
 *
 * A stream is known by its client (`src`) and the open's `msg_id`, which every later message of
 * it names: `stream` from the client, `in_reply_to` from the node.
 */
export class StdioStreams {
  readonly #app: Application;
  readonly #outbox: Outbox;
  readonly #logger: Logger;
  readonly #stats: Stats;
  readonly #limits: CallLimits;
  readonly #refuseOverLimits: (ctx: CallContext) => Promise<void>;
  readonly #maxQueued: number;
  /** Client -> stream id -> stream. */
  readonly #open = new Map<string, Map<number | string, OpenStream>>();
  #count = 0;
  #closing: StatusError | undefined = undefined;
  readonly #appliedText = stringListDumper();

  constructor(options: StdioStreamsOptions) {
    const maxQueued = options.maxQueuedRequests ?? 16_384;
    if (!Number.isInteger(maxQueued) || maxQueued < 1) throw new RangeError(`StdioStreams: maxQueuedRequests must be an integer >= 1, got ${maxQueued}`);
    this.#app = options.app;
    this.#outbox = options.outbox;
    this.#logger = options.logger;
    this.#stats = options.stats;
    this.#limits = options.limits;
    this.#refuseOverLimits = options.refuseOverLimits ?? ((ctx) => {
      ctx.status = Status.RESOURCE_EXHAUSTED;
      return Promise.resolve();
    });
    this.#maxQueued = maxQueued;
  }

  /** Streams open now. */
  get size(): number {
    return this.#count;
  }

  /**
   * Handles a stream message from `client`, answered from `src`; false for a type that is not
   * one (the host answers it). `echo` is the message's msg_id as a reply echoes it, undefined
   * when no reply can carry it.
   */
  handle(type: unknown, src: string, client: string, echo: number | string | RawJson | undefined, body: Record<string, unknown>, lineNo: number): boolean {
    switch (type) {
      case StreamMessage.OPEN:
        this.#openStream(src, client, echo, body, lineNo);
        return true;
      case StreamMessage.MSG:
      case StreamMessage.END:
      case StreamMessage.CANCEL:
        this.#toStream(type, client, body, lineNo);
        return true;
      default:
        return false;
    }
  }

  /**
   * Ends every open stream UNAVAILABLE (the node is stopping) and refuses new ones; resolves once
   * every close has been written to the outbox.
   */
  async close(message = "node shutting down"): Promise<void> {
    this.#closing ??= new StatusError(Status.UNAVAILABLE, message);
    const closed: Promise<void>[] = [];
    for (const streams of this.#open.values()) {
      for (const stream of streams.values()) {
        stream.ctx.cancel(this.#closing);
        closed.push(stream.closed);
      }
    }
    await Promise.all(closed);
  }

  #openStream(src: string, client: string, echo: number | string | RawJson | undefined, body: Record<string, unknown>, lineNo: number): void {
    // The stream's name, which later messages give in `stream`: the msg_id as JSON reads it.
    const id = body["msg_id"] as number | string;
    if (echo === undefined) {
      this.#logger.warn({ line: lineNo }, "grpc_stream_open without a usable msg_id: the stream could not be named; ignored");
      return;
    }
    const streams = this.#open.get(client);
    if (streams?.has(id) === true) {
      this.#logger.warn({ line: lineNo, stream: id }, "grpc_stream_open reuses the id of an open stream; refused");
      const text = (msgId: number): string => `{"type": "error", "in_reply_to": ${dumps(echo)}, "code": ${MALFORMED_REQUEST}, "text": "stream id is in use", "msg_id": ${msgId}}`;
      this.#outbox.push(src, client, echo, undefined, (_: unknown, __: unknown, msgId: number) => text(msgId));
      return;
    }
    const kind = body["kind"];
    const requests = isStreamKind(kind) && streamsRequests(kind) ? new RequestQueue(this.#maxQueued, this.#hold) : undefined;
    const ctx = new CallContext({
      service: typeof body["service"] === "string" ? body["service"] : "",
      method: typeof body["method"] === "string" ? body["method"] : "",
      request: requests ?? body["request"],
      metadata: body["metadata"],
      kind: isStreamKind(kind) ? kind : CallKind.SERVER_STREAM,
      peer: client,
    });
    const refusal = !isStreamKind(kind) ? Status.INVALID_ARGUMENT : this.#closing !== undefined ? Status.UNAVAILABLE : undefined;
    const over = refusal === undefined ? metadataOverLimits(body["metadata"], this.#limits) : undefined;
    let run: Promise<void>;
    if (refusal === undefined && over === undefined) {
      const send = (message: unknown): Promise<void> | undefined => this.#outbox.sendNow(src, client, (msgId) => responseMessageText(echo, message, msgId));
      run = this.#app.run(ctx, send);
    } else if (refusal === undefined) {
      this.#logger.warn({ line: lineNo, client: client.slice(0, 200), over }, "stream refused: metadata over the limits");
      run = this.#refuseOverLimits(ctx);
    } else {
      // Refused at the door, as grpc_call refuses oversized metadata: no interceptor ran.
      this.#logger.warn({ line: lineNo, client: client.slice(0, 200), kind: typeof kind === "string" ? kind.slice(0, 40) : typeof kind, status: refusal }, "grpc_stream_open refused");
      ctx.status = refusal;
      run = Promise.resolve();
    }
    const closed = run.then(() => this.#writeClose(src, client, id, echo, ctx, requests));
    const stream: OpenStream = { ctx, requests, closed };
    if (streams === undefined) this.#open.set(client, new Map([[id, stream]]));
    else streams.set(id, stream);
    this.#count++;
  }

  readonly #hold = (delta: number): void => this.#outbox.hold(delta);

  #toStream(type: string, client: string, body: Record<string, unknown>, lineNo: number): void {
    const id = body["stream"];
    const stream = typeof id === "number" || typeof id === "string" ? this.#open.get(client)?.get(id) : undefined;
    if (stream === undefined) {
      // A message crossing the stream's close on the wire: nothing to do.
      this.#logger.debug({ line: lineNo, type, stream: typeof id === "string" ? id.slice(0, 200) : id }, "message for a stream that is not open; ignored");
      return;
    }
    if (type === StreamMessage.CANCEL) {
      stream.ctx.cancel();
      return;
    }
    const requests = stream.requests;
    if (requests === undefined || requests.ended) {
      // After the half-close, or once the handler stopped reading: the call is ending.
      this.#logger.debug({ line: lineNo, type, stream: id }, `${type} for a stream that takes no more request messages; ignored`);
      return;
    }
    if (type === StreamMessage.END) requests.end();
    else if (!requests.push(body["message"])) {
      this.#logger.warn({ line: lineNo, stream: id, queued: requests.size }, "request messages arrive faster than the handler reads them; call ended");
      stream.ctx.cancel(new StatusError(Status.RESOURCE_EXHAUSTED, `more than ${this.#maxQueued} request messages wait unread`));
    }
  }

  /** Writes the stream's close after its last message, counts it, and forgets the stream. */
  #writeClose(src: string, client: string, id: number | string, echo: number | string | RawJson, ctx: CallContext, requests: RequestQueue | undefined): void {
    requests?.close();
    const streams = this.#open.get(client);
    streams?.delete(id);
    if (streams?.size === 0) this.#open.delete(client);
    this.#count--;
    const outcome = callOutcomeOf(ctx);
    this.#stats.record(outcome.interceptorFailed);
    try {
      void this.#outbox.sendNow(src, client, (msgId) => closeText(echo, outcome, msgId, this.#appliedText));
    } catch (error) {
      this.#logger.error({ err: error, stream: id }, "stream close could not be serialised; not sent");
    }
  }
}
