import type { Readable, Writable } from "node:stream";
import { LineReader } from "../../hosts/stdio/line-reader.js";
import { outcomeFromReply } from "../../hosts/stdio/replies.js";
import { Status } from "../../core/status.js";
import { StatusError } from "../../core/status-error.js";
import { LineBatcher } from "./line-batcher.js";
import type { OutgoingCall, OutgoingStreamCall, Receive, Reply, Transport } from "../transport.js";
import { StdioStreamCall, type StreamLink } from "./stdio-stream-call.js";

/** Options of {@link StdioTransport}. */
export interface StdioTransportOptions {
  /** The node's output: reply lines come from here (a child's stdout). */
  readonly input: Readable;
  /** The node's input: calls go here (a child's stdin). */
  readonly output: Writable;
  /** Our id, the `src` of every envelope. Default "c1". */
  readonly clientId?: string;
  /** The node's id, given to it by `init` and the `dest` of every envelope. Default "n1". */
  readonly nodeId?: string;
  /** Longest reply line kept, in bytes. Default 64 MiB. */
  readonly maxLineBytes?: number;
  /**
   * Response messages of one stream read and not yet taken by its reader; past it the transport
   * stops reading its input (every call waits) until that reader catches up. Default 256.
   */
  readonly maxStreamBacklog?: number;
  /** A line that answers none of our calls (not JSON, or a call given up on); default ignored. */
  readonly onStrayLine?: (line: string, lineNo: number) => void;
}

interface Pending {
  readonly resolve: (body: Record<string, unknown>) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

/**
 * A transport over a newline-delimited JSON stream pair, speaking bin/node's protocol
 * (docs/protocol.md): it sends `init` first, numbers its messages, and matches each reply to its
 * call by `in_reply_to`, so any number of calls can be in flight and replies may come in any
 * order. Lines written in one turn of the event loop go out in one write (see {@link LineBatcher}).
 *
 * A unary call given up on (its signal aborted) rejects at once; its reply, when it comes, is
 * dropped (the protocol has no cancel for a grpc_call, so the node still does the work).
 * Streaming calls (`stream()`, docs/streams-protocol.md) are cancelled on the node.
 *
 * `close()` ends the output and resolves once the node has answered and closed its side,
 * which bin/node does when its input ends; `destroy()` stops at once. Use
 * {@link spawnNode} to start bin/node as a child process.
 *
 * @example
 *   const transport = new StdioTransport({ input: child.stdout, output: child.stdin });
 *   await transport.ready; // init_ok arrived
 */
export class StdioTransport implements Transport {
  /** Resolves when the node has answered `init`; rejects if it never can. */
  readonly ready: Promise<void>;
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #src: string;
  readonly #dest: string;
  readonly #reader: LineReader;
  readonly #lines: LineBatcher;
  readonly #onStrayLine: (line: string, lineNo: number) => void;
  readonly #pending = new Map<number, Pending>();
  /** Streaming calls by stream id, until their close arrives. */
  readonly #streams = new Map<number, StdioStreamCall>();
  /** Streams whose reader is behind by maxStreamBacklog or more: input paused while any is. */
  readonly #backlogged = new Set<StdioStreamCall>();
  readonly #maxBacklog: number;
  #lastMsgId = -1;
  #closing = false;
  /** Set once the connection is over: why new calls fail. */
  #gone: StatusError | undefined;
  readonly #done: Promise<void>;
  #markDone!: () => void;

  constructor(options: StdioTransportOptions) {
    const { input, output } = options;
    if (typeof input?.on !== "function" || typeof output?.write !== "function") throw new TypeError("StdioTransport: input must be a Readable and output a Writable");
    for (const key of ["clientId", "nodeId"] as const) {
      const id = options[key];
      if (id !== undefined && (typeof id !== "string" || id === "")) throw new TypeError(`StdioTransport: ${key} must be a non-empty string`);
    }
    this.#input = input;
    this.#output = output;
    this.#src = options.clientId ?? "c1";
    this.#dest = options.nodeId ?? "n1";
    this.#onStrayLine = options.onStrayLine ?? (() => {});
    this.#maxBacklog = options.maxStreamBacklog ?? 256;
    if (!Number.isInteger(this.#maxBacklog) || this.#maxBacklog < 1) throw new TypeError("StdioTransport: maxStreamBacklog must be an integer >= 1");
    this.#reader = new LineReader({
      maxLineBytes: options.maxLineBytes ?? 64 * 1024 * 1024,
      onLine: this.#onLine,
      onOversize: (lineNo, bytes) => this.#onStrayLine(`<${bytes} bytes, over maxLineBytes>`, lineNo),
    });
    this.#lines = new LineBatcher(output);
    this.#done = new Promise((resolve) => (this.#markDone = resolve));
    input.on("data", this.#onData);
    input.on("end", this.#onEnd);
    input.on("error", this.#onInputError);
    output.on("error", this.#onOutputError);

    this.ready = this.#request({ type: "init", node_id: this.#dest, node_ids: [this.#dest] }, undefined).then(() => undefined);
    this.ready.catch(() => {}); // whoever awaits ready sees the rejection; nobody else must
  }

  /** Calls sent and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  async unary(call: OutgoingCall): Promise<Reply> {
    const body = await this.#request(
      { type: "grpc_call", service: call.service, method: call.method, request: call.request, metadata: call.metadata },
      call.signal,
    );
    return outcomeFromReply(body);
  }

  /**
   * A streaming call (`grpc_stream_open` and what follows, docs/streams-protocol.md): request
   * messages are sent as the output takes them, response messages handed to `receive` one at a
   * time; the call's signal cancels it on the node.
   */
  stream(call: OutgoingStreamCall, receive: Receive): Promise<Reply> {
    if (this.#gone !== undefined) return Promise.reject(this.#gone);
    if (this.#closing) return Promise.reject(new StatusError(Status.UNAVAILABLE, "transport closing"));
    if (call.signal?.aborted) return Promise.reject(call.signal.reason);
    let streamCall: StdioStreamCall;
    try {
      streamCall = new StdioStreamCall(call, receive, this.#link);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#streams.set(streamCall.id, streamCall);
    return streamCall.result;
  }

  /** What a streaming call uses of this transport. */
  readonly #link: StreamLink = {
    send: (body) => {
      if (this.#gone !== undefined) throw this.#gone;
      const msgId = this.#lastMsgId + 1;
      let line: string;
      try {
        line = JSON.stringify({ src: this.#src, dest: this.#dest, body: { ...body, msg_id: msgId } }) + "\n";
      } catch (error) {
        throw new StatusError(Status.INVALID_ARGUMENT, "a stream message or metadata cannot be sent as JSON", { cause: error });
      }
      this.#lastMsgId = msgId;
      this.#lines.write(line);
      return msgId;
    },
    writable: () => this.#lines.writable(),
    backlog: (call, backlog) => {
      if (backlog >= this.#maxBacklog) {
        if (this.#backlogged.size === 0) this.#input.pause();
        this.#backlogged.add(call);
      } else if (this.#backlogged.delete(call) && this.#backlogged.size === 0 && this.#gone === undefined) {
        this.#input.resume();
      }
    },
    done: (call) => {
      this.#streams.delete(call.id);
    },
  };

  /**
   * Ends the output; resolves once the node has closed its side. Calls still in flight get
   * their replies first (bin/node answers everything it has read); any left unanswered when the
   * node's output ends fail with UNAVAILABLE. New calls fail at once.
   */
  close(): Promise<void> {
    if (!this.#closing && this.#gone === undefined) {
      this.#closing = true;
      this.#lines.end();
    }
    return this.#done;
  }

  /** Stops now: every call in flight fails with UNAVAILABLE and both streams are destroyed. */
  destroy(reason = "transport destroyed"): void {
    this.#finish(reason);
    this.#input.destroy();
    this.#output.destroy();
  }

  #request(fields: Record<string, unknown>, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    if (this.#gone !== undefined) return Promise.reject(this.#gone);
    if (this.#closing) return Promise.reject(new StatusError(Status.UNAVAILABLE, "transport closing"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const msgId = this.#lastMsgId + 1;
    let line: string;
    try {
      line = JSON.stringify({ src: this.#src, dest: this.#dest, body: { ...fields, msg_id: msgId } }) + "\n";
    } catch (error) {
      return Promise.reject(new StatusError(Status.INVALID_ARGUMENT, "request or metadata cannot be sent as JSON", { cause: error }));
    }
    this.#lastMsgId = msgId;
    return new Promise((resolve, reject) => {
      const onAbort = signal && ((): void => {
        this.#pending.delete(msgId);
        reject(signal.reason);
      });
      if (onAbort !== undefined) signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(msgId, { resolve, reject, signal, onAbort });
      this.#lines.write(line);
    });
  }

  readonly #onData = (chunk: Buffer | string): void => {
    this.#reader.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  };

  readonly #onLine = (line: string, lineNo: number): void => {
    let body: unknown;
    try {
      body = (JSON.parse(line) as { body?: unknown } | null)?.body;
    } catch {
      body = undefined;
    }
    const inReplyTo = body !== null && typeof body === "object" ? (body as Record<string, unknown>)["in_reply_to"] : undefined;
    const pending = typeof inReplyTo === "number" ? this.#pending.get(inReplyTo) : undefined;
    if (pending === undefined) {
      const stream = typeof inReplyTo === "number" ? this.#streams.get(inReplyTo) : undefined;
      if (stream === undefined) return this.#onStrayLine(line, lineNo);
      return stream.deliver(body as Record<string, unknown>);
    }
    this.#pending.delete(inReplyTo as number);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener("abort", pending.onAbort);
    pending.resolve(body as Record<string, unknown>);
  };

  readonly #onEnd = (): void => {
    this.#reader.end();
    this.#finish("the node closed its output");
  };

  readonly #onInputError = (error: Error): void => this.#finish(`reading from the node failed: ${error.message}`);
  readonly #onOutputError = (error: Error): void => this.#finish(`writing to the node failed: ${error.message}`);

  /** The connection is over: fail what is left, let go of the streams, settle close(). */
  #finish(reason: string): void {
    if (this.#gone !== undefined) return;
    this.#gone = new StatusError(Status.UNAVAILABLE, reason);
    this.#lines.stop();
    for (const pending of this.#pending.values()) {
      if (pending.onAbort !== undefined) pending.signal?.removeEventListener("abort", pending.onAbort);
      pending.reject(this.#gone);
    }
    this.#pending.clear();
    for (const stream of this.#streams.values()) stream.fail(this.#gone);
    this.#streams.clear();
    this.#backlogged.clear();
    this.#input.removeListener("data", this.#onData);
    this.#input.removeListener("end", this.#onEnd);
    // The error listeners stay: a late EPIPE must not become an uncaught exception.
    this.#markDone();
  }
}
