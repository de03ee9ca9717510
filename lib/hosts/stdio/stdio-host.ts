import type { Application } from "../../core/application.js";
import { CallContext } from "../../core/context.js";
import { type CallLimits, DEFAULT_CALL_LIMITS, metadataOverLimits } from "../../core/limits.js";
import type { Logger } from "../../logging/logger.js";
import { type Body, Outbox } from "./outbox.js";
import { stringListDumper } from "./python-json.js";
import { replyIdOf } from "./msg-id.js";
import { callOutcomeOf, callReplyText, initReply, notSupportedReply, statsReply } from "./replies.js";
import { Stats } from "./stats.js";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import type { Middleware } from "../../core/middleware.js";

/** Options of {@link StdioHost}. */
export interface StdioHostOptions {
  /** The pipeline every grpc_call runs through. */
  readonly app: Application;
  readonly logger: Logger;
  /** Writes a batch of output lines; returns false when the reader wants us to wait. */
  readonly write: (chunk: string) => boolean;
  /**
   * What a call's metadata may carry; a call over them is answered RESOURCE_EXHAUSTED without
   * entering the pipeline (`interceptors_applied: []`). Default {@link DEFAULT_CALL_LIMITS}.
   */
  readonly limits?: CallLimits;
  /**
   * The credential check that comes before the limits (bin/node passes its `auth`): a call
   * over the limits that it refuses is answered as the pipeline would (`interceptor_failed`
   * naming it, counted in the stats as its failure), not RESOURCE_EXHAUSTED. Default none.
   */
  readonly checkBeforeLimits?: Middleware;
  /**
   * Add `retry_after_ms` to the reply of a call refused with a wait (rate_limit): an extension
   * of the protocol, which otherwise keeps retry hints in the logs. Default false.
   */
  readonly retryAfterOnWire?: boolean;
}

type Envelope = { readonly src: string; readonly dest?: unknown; readonly body: Record<string, unknown> };

function isEnvelope(msg: unknown): msg is Envelope {
  if (msg === null || typeof msg !== "object" || Array.isArray(msg)) return false;
  const { src, body } = msg as Record<string, unknown>;
  return typeof src === "string" && body !== null && typeof body === "object" && !Array.isArray(body);
}

const BYTE_ORDER_MARK = 0xfeff;

const asString = (value: unknown): string => (typeof value === "string" ? value : "");

/** A message type for the error text and the log, whatever JSON value it is; never throws. */
function typeText(type: unknown): string {
  // Not String(type): an array nested 100,000 deep overflows the stack, {"toString": 1} throws.
  if (typeof type === "string") return type.slice(0, 200);
  if (type === null || typeof type !== "object") return String(type);
  return Array.isArray(type) ? "(an array)" : "(an object)";
}

const renderInit = (_: unknown, inReplyTo: unknown): Body | undefined => (inReplyTo === undefined ? undefined : initReply(inReplyTo));

const renderNotSupported = (type: string, inReplyTo: unknown): Body | undefined => (inReplyTo === undefined ? undefined : notSupportedReply(inReplyTo, type));

/**
 * The protocol side of bin/node (see docs/protocol.md): turns each line into a message, each
 * grpc_call into a {@link CallContext} run through the application, and each outcome into its
 * reply, through an {@link Outbox} that keeps replies in arrival order.
 */
export class StdioHost {
  readonly stats = new Stats();
  readonly outbox: Outbox;
  readonly #app: Application;
  readonly #logger: Logger;
  readonly #limits: CallLimits;
  readonly #checkBeforeLimits: Middleware | undefined;
  readonly #retryAfterOnWire: boolean;
  #nodeId: string | undefined;
  #nodeIds: readonly string[] = [];

  constructor(options: StdioHostOptions) {
    this.#app = options.app;
    this.#logger = options.logger;
    this.#limits = options.limits ?? DEFAULT_CALL_LIMITS;
    this.#checkBeforeLimits = options.checkBeforeLimits;
    this.#retryAfterOnWire = options.retryAfterOnWire === true;
    this.outbox = new Outbox({
      write: options.write,
      onError: (err, inReplyTo) => this.#logger.error({ err, inReplyTo }, "reply could not be serialised; not sent"),
    });
  }

  /** The id `init` gave this node, if it has arrived. */
  get nodeId(): string | undefined {
    return this.#nodeId;
  }

  /** All node ids `init` named. */
  get nodeIds(): readonly string[] {
    return this.#nodeIds;
  }

  /**
   * Handles one input line; bad lines are logged with their number and skipped. A UTF-8 byte
   * order mark before the first line (what some editors and Windows tools write) is dropped.
   */
  readonly handleLine = (text: string, lineNo: number): void => {
    const line = lineNo === 1 && text.charCodeAt(0) === BYTE_ORDER_MARK ? text.slice(1) : text;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      if (line.trim() === "") return;
      // Not JSON.parse's message: it quotes the input ('Unexpected token 'B', "Bearer s3cret"
      // is not valid JSON'), and the input may hold a bearer token.
      this.#logger.warn({ line: lineNo, chars: line.length }, "input line is not JSON; skipped");
      return;
    }
    if (!isEnvelope(msg)) {
      this.#logger.warn({ line: lineNo }, "input line is not an envelope with a string src and an object body; skipped");
      return;
    }
    try {
      this.handleMessage(msg, lineNo, line);
    } catch (error) {
      // A bug must cost one message, not the process and every reply still in the outbox.
      this.#logger.error({ line: lineNo, err: error }, "internal error handling a message; skipped");
    }
  };

  /**
   * Handles one envelope. Its `line`, when given, is where the msg_id's token is read to echo
   * it as Python prints it; without it a number is echoed as JavaScript holds it.
   *
   * Only a finite number or a string msg_id is answered: echoing an object means serialising
   * it, which a deeply nested one turns into a stack overflow, and 1e400 parses to Infinity,
   * which no JSON parser reads back.
   */
  handleMessage(msg: Envelope, lineNo = 0, line?: string): void {
    const body = msg.body;
    const msgId = body["msg_id"];
    const inReplyTo = replyIdOf(msgId, line);
    const src = this.#nodeId ?? asString(msg.dest);
    if (msgId === undefined) this.#logger.debug({ line: lineNo }, "message has no msg_id; no reply will be sent");
    else if (inReplyTo === undefined) this.#logger.warn({ line: lineNo }, "msg_id is not a finite number or a string; no reply will be sent");
    switch (body["type"]) {
      case "grpc_call": {
        const ctx = new CallContext({
          service: asString(body["service"]),
          method: asString(body["method"]),
          request: body["request"],
          metadata: body["metadata"],
          peer: msg.src,
        });
        const over = metadataOverLimits(body["metadata"], this.#limits);
        if (over === undefined) {
          this.outbox.push(src, msg.src, inReplyTo, ctx, this.#renderCall, this.#app.run(ctx));
          return;
        }
        this.#logger.warn({ line: lineNo, client: msg.src.slice(0, 200), over }, "call refused: metadata over the limits");
        this.outbox.push(src, msg.src, inReplyTo, ctx, this.#renderCall, this.#refuseOverLimits(ctx));
        return;
      }
      case "grpc_interceptor_stats":
        this.outbox.push(src, msg.src, inReplyTo, undefined, this.#renderStats);
        return;
      case "init":
        this.#init(body, lineNo);
        this.outbox.push(this.#nodeId ?? src, msg.src, inReplyTo, undefined, renderInit);
        return;
      default: {
        const type = typeText(body["type"]);
        this.#logger.warn({ line: lineNo, type }, "unsupported message type");
        this.outbox.push(src, msg.src, inReplyTo, type, renderNotSupported);
      }
    }
  }

  /** Resolves once every reply to what was read so far has been written. */
  whenIdle(): Promise<void> {
    return this.outbox.whenIdle();
  }

  #init(body: Record<string, unknown>, lineNo: number): void {
    const nodeId = body["node_id"];
    const nodeIds = body["node_ids"];
    if (typeof nodeId !== "string" || nodeId === "") {
      this.#logger.warn({ line: lineNo }, "init without a string node_id; keeping the current id");
      return;
    }
    this.#nodeId = nodeId;
    this.#nodeIds = Array.isArray(nodeIds) ? nodeIds.filter((id): id is string => typeof id === "string") : [];
  }

  /**
   * A call over the metadata limits: the credential check first (so that a caller without a
   * valid token is UNAUTHENTICATED and counted as such, as for any other call), then refused at
   * the door, as a gRPC server refuses oversized metadata: RESOURCE_EXHAUSTED, no interceptor
   * applied, nothing else of the pipeline run.
   */
  async #refuseOverLimits(ctx: CallContext): Promise<void> {
    const check = this.#checkBeforeLimits;
    if (check !== undefined) {
      try {
        await check(ctx, () => Promise.resolve());
      } catch (thrown) {
        const error = StatusError.from(thrown);
        ctx.failure = { at: check.name, error, thrown, threw: true };
        ctx.status = error.code;
        return;
      }
    }
    ctx.status = Status.RESOURCE_EXHAUSTED;
  }

  readonly #renderStats = (_: unknown, inReplyTo: unknown): Body | undefined =>
    inReplyTo === undefined ? undefined : statsReply(inReplyTo, this.stats.toWire());

  readonly #appliedText = stringListDumper();

  /** The grpc_call_ok body as text, a reply sent for most messages (no body object to serialise). */
  readonly #renderCall = (ctx: CallContext, inReplyTo: unknown, msgId: number): string | undefined => {
    const outcome = callOutcomeOf(ctx, this.#retryAfterOnWire);
    this.stats.record(outcome.interceptorFailed);
    return inReplyTo === undefined ? undefined : callReplyText(inReplyTo, outcome, msgId, this.#appliedText);
  };
}
