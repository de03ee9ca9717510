import { CallKind, streamsRequests } from "../../core/call-kind.js";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import {
  cancelBody,
  halfCloseBody,
  isStreamKind,
  openBody,
  outcomeFromClose,
  requestMessageBody,
  StreamMessage,
} from "../../hosts/stdio/stream-messages.js";
import type { OutgoingStreamCall, Receive, Reply } from "../transport.js";

/** What a {@link StdioStreamCall} needs of its transport. */
export interface StreamLink {
  /** Sends one message body (the transport adds the envelope and a msg_id); returns that msg_id. */
  send(body: Record<string, unknown>): number;
  /** Resolves when the output can take more (its 'drain'), or undefined when it can now. */
  writable(): Promise<void> | undefined;
  /** This call has `backlog` response messages not yet taken by its reader (for pausing the input). */
  backlog(call: StdioStreamCall, backlog: number): void;
  /** The call is over: forget it. */
  done(call: StdioStreamCall): void;
}

/**
 * One streaming call of a {@link StdioTransport} (docs/streams-protocol.md): sends its
 * `grpc_stream_open`, pumps its request messages and half-close, hands each response message
 * to `receive` in order (the next once the last was taken), and resolves with the close's
 * outcome after the last message. Its signal sends `grpc_stream_cancel` and rejects at once
 * with the signal's reason; whatever the node still sends for the call is dropped.
 */
export class StdioStreamCall {
  /** The open's msg_id: the stream's id on the wire. */
  readonly id: number;
  readonly result: Promise<Reply>;
  readonly #link: StreamLink;
  readonly #receive: Receive;
  readonly #signal: AbortSignal | undefined;
  /** Node messages not yet handed to `receive`: grpc_stream_msg bodies, then the close. */
  readonly #inbox: Record<string, unknown>[] = [];
  #delivering = false;
  #settled = false;
  #resolve!: (reply: Reply) => void;
  #reject!: (reason: unknown) => void;

  constructor(call: OutgoingStreamCall, receive: Receive, link: StreamLink) {
    if (!isStreamKind(call.kind)) throw new StatusError(Status.INVALID_ARGUMENT, `not a streaming kind: ${String(call.kind)}`);
    this.#link = link;
    this.#receive = receive;
    this.#signal = call.signal;
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.id = link.send(openBody(call.kind, call.service, call.method, call.kind === CallKind.SERVER_STREAM ? call.request : undefined, call.metadata));
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (streamsRequests(call.kind)) void this.#pumpRequests(call.request as AsyncIterable<unknown>);
  }

  /** A message the node sent for this call (its `in_reply_to` is {@link id}). */
  deliver(body: Record<string, unknown>): void {
    if (this.#settled) {
      // Given up on: wait for the close only to forget the call.
      if (body["type"] !== StreamMessage.MSG) this.#link.done(this);
      return;
    }
    this.#inbox.push(body);
    this.#link.backlog(this, this.#inbox.length);
    if (!this.#delivering) void this.#deliverAll();
  }

  /** The connection is over: the call fails with `reason` unless it has already ended. */
  fail(reason: StatusError): void {
    this.#settle(undefined, reason);
  }

  async #deliverAll(): Promise<void> {
    this.#delivering = true;
    try {
      for (let body = this.#inbox.shift(); body !== undefined && !this.#settled; body = this.#inbox.shift()) {
        this.#link.backlog(this, this.#inbox.length);
        if (body["type"] === StreamMessage.MSG) {
          try {
            await this.#receive(body["message"]);
          } catch (error) {
            // The reader left (Handoff rejects): cancel the call on the node.
            this.#cancel();
            this.#settle(undefined, error);
          }
          continue;
        }
        let reply: Reply | undefined;
        let error: unknown;
        try {
          reply = outcomeFromClose(body);
        } catch (thrown) {
          error = thrown;
        }
        this.#link.done(this);
        this.#settle(reply, error);
      }
    } finally {
      this.#delivering = false;
    }
  }

  /** Sends the request messages as the output takes them, then the half-close. */
  async #pumpRequests(requests: AsyncIterable<unknown>): Promise<void> {
    const iterator = requests[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const step = await iterator.next();
        if (this.#settled) return;
        if (step.done === true) {
          finished = true;
          this.#link.send(halfCloseBody(this.id));
          return;
        }
        this.#link.send(requestMessageBody(this.id, step.value));
        await this.#link.writable();
        if (this.#settled) return;
      }
    } catch (error) {
      // A request stream that fails cannot be completed: the call is cancelled with its error.
      finished = true;
      if (this.#settled) return;
      this.#cancel();
      this.#settle(undefined, StatusError.from(error));
    } finally {
      if (!finished) void Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
  }

  readonly #onAbort = (): void => {
    if (this.#settled) return;
    this.#cancel();
    this.#settle(undefined, this.#signal?.reason);
  };

  #cancel(): void {
    try {
      this.#link.send(cancelBody(this.id));
    } catch {
      // The connection is gone: there is no call left to cancel.
    }
  }

  #settle(reply: Reply | undefined, error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#inbox.length = 0;
    this.#link.backlog(this, 0);
    if (reply !== undefined) this.#resolve(reply);
    else this.#reject(error);
  }
}
