import { dumps, quote } from "./python-json.js";

/** A reply body; the outbox appends `msg_id` as its last key. */
export type Body = Record<string, unknown>;

/**
 * Turns what a message produced into its reply body at write time: a {@link Body} (the outbox
 * appends `msg_id` and serialises it), or the body already serialised as Python's json.dumps
 * would, ending with `"msg_id": <msgId>}` (a reply that is sent often, rendered without an
 * object); undefined writes nothing and spends no msg_id.
 */
export type Render<T> = (value: T, inReplyTo: unknown, msgId: number) => Body | string | undefined;

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  /** Writes a batch of lines; returns false when the destination wants us to wait. */
  readonly write: (chunk: string) => boolean;
  /** Bytes of pending output that force a write before the end of the batch. Default 64 KiB. */
  readonly batchBytes?: number;
  /**
   * Told when a reply could not be rendered or serialised (a render that throws, a response too
   * deeply nested for the serialiser); that reply is left out, without spending a msg_id, and
   * the replies after it go on. Default: ignore.
   */
  readonly onError?: (error: unknown, inReplyTo: unknown) => void;
}

interface Entry {
  src: string;
  dest: string;
  inReplyTo: unknown;
  value: unknown;
  render: Render<unknown>;
  ready: boolean;
}

/**
 * The node's outgoing side: replies leave in the order their requests arrived, however their
 * work overlaps, numbered by the node's own msg_id counter in that order, and written in
 * batches (one write per turn of the event loop, or sooner past `batchBytes`).
 */
export class Outbox {
  readonly #write: (chunk: string) => boolean;
  readonly #batchBytes: number;
  readonly #onError: (error: unknown, inReplyTo: unknown) => void;
  #queue: (Entry | undefined)[] = [];
  #head = 0;
  #nextMsgId = 0;
  #buffer = "";
  #flushScheduled = false;
  #idle: (() => void)[] = [];
  #congested = false;
  #envelopeHeadFor: string | undefined;
  #envelopeHead = "";
  #lowWater = -1;
  #onLowWater: (() => void) | undefined = undefined;
  /** Writers of {@link sendNow} waiting for 'drain' or the next turn of the event loop. */
  #writers: (() => void)[] = [];
  #writersScheduled = false;
  #held = 0;

  constructor(options: OutboxOptions) {
    this.#write = options.write;
    this.#batchBytes = options.batchBytes ?? 64 * 1024;
    this.#onError = options.onError ?? (() => {});
  }

  /**
   * Replies reserved but not yet written (work in flight or waiting for earlier replies), plus
   * the messages {@link hold} counts: what bin/node's flow control weighs against MAX_IN_FLIGHT.
   */
  get pending(): number {
    return this.#queue.length - this.#head + this.#held;
  }

  /**
   * Counts `delta` more (or, negative, fewer) messages read and not yet taken by their handler
   * (a stream's request messages) in {@link pending}, so the reader of stdin pauses for them as
   * it does for replies; a release may call the {@link whenPendingAtMost} listener.
   */
  hold(delta: number): void {
    this.#held += delta;
    if (delta >= 0) return;
    this.#checkLowWater();
    if (this.pending === 0 && this.#idle.length > 0) this.flush();
  }

  /** Whether the last write was refused by the destination (it wants us to wait for 'drain'). */
  get congested(): boolean {
    return this.#congested;
  }

  /**
   * Reserves the next place in output order. `work`, when given, is what must settle before the
   * reply can be rendered; `render(value, inReplyTo)` then builds the body.
   */
  push<T>(src: string, dest: string, inReplyTo: unknown, value: T, render: Render<T>, work?: Promise<unknown>): void {
    const entry: Entry = { src, dest, inReplyTo, value, render: render as Render<unknown>, ready: work === undefined };
    this.#queue.push(entry);
    if (work === undefined) this.#renderReady();
    else {
      // Settled either way: a rejected work must not hold back this reply and all after it.
      const settle = (): void => {
        entry.ready = true;
        this.#renderReady();
      };
      work.then(settle, settle);
    }
  }

  /**
   * Calls `listener` once, as soon as at most `count` replies are pending: at once when that is
   * so already. One listener at a time; a new one replaces the last. bin/node resumes reading
   * stdin from it instead of polling.
   */
  whenPendingAtMost(count: number, listener: () => void): void {
    if (this.pending <= count) {
      this.#onLowWater = undefined;
      listener();
      return;
    }
    this.#lowWater = count;
    this.#onLowWater = listener;
  }

  /** Resolves once every reserved reply has been written. */
  whenIdle(): Promise<void> {
    if (this.pending === 0 && this.#buffer === "") return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Tells the outbox the destination has room again (its 'drain' event) and writes what is
   * buffered. Congestion ends here and only here, whether or not anything is buffered: a flush
   * that finds the buffer empty says nothing about the destination, so ending congestion there
   * would let the reader of stdin read on while stdout is backed up.
   */
  resumeWriting(): void {
    this.#congested = false;
    this.flush();
    this.#releaseWriters();
  }

  /**
   * Writes one message now, outside arrival order (a stream's messages: docs/streams-protocol.md),
   * numbered by the same msg_id counter, so msg_ids stay consecutive in output order. `text`
   * renders the body with its msg_id; if it throws, nothing is written and no msg_id is spent.
   * Returns a promise when the writer must wait before its next message: until 'drain' while the
   * destination is congested, or until the next turn of the event loop once a batch was written
   * (so a producer that never waits cannot starve stdin); undefined when it may go on at once.
   */
  sendNow(src: string, dest: string, text: (msgId: number) => string): Promise<void> | undefined {
    const body = text(this.#nextMsgId);
    this.#buffer += this.#envelopeStart(src) + quote(dest) + ', "body": ' + body + "}\n";
    this.#nextMsgId++;
    if (this.#buffer.length >= this.#batchBytes) this.flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
    if (!this.#congested && this.#buffer !== "") return undefined;
    return new Promise((resolve) => {
      this.#writers.push(resolve);
      if (!this.#congested && !this.#writersScheduled) {
        this.#writersScheduled = true;
        setImmediate(() => {
          this.#writersScheduled = false;
          if (!this.#congested) this.#releaseWriters();
        });
      }
    });
  }

  #checkLowWater(): void {
    if (this.#onLowWater !== undefined && this.pending <= this.#lowWater) {
      const listener = this.#onLowWater;
      this.#onLowWater = undefined;
      listener();
    }
  }

  #releaseWriters(): void {
    const waiting = this.#writers;
    if (waiting.length === 0) return;
    this.#writers = [];
    for (const resolve of waiting) resolve();
  }

  /** Writes what is buffered now; congestion ends only with {@link resumeWriting}. */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#buffer !== "") {
      const chunk = this.#buffer;
      this.#buffer = "";
      this.#congested = !this.#write(chunk);
    }
    if (this.pending === 0 && this.#idle.length > 0) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  /** `{"src": "<src>", "dest": ` for the last src seen (a node answers from one id). */
  #envelopeStart(src: string): string {
    if (src !== this.#envelopeHeadFor) {
      this.#envelopeHeadFor = src;
      this.#envelopeHead = `{"src": ${quote(src)}, "dest": `;
    }
    return this.#envelopeHead;
  }

  /** Renders, in order, the replies at the head of the queue whose work has settled. */
  #renderReady(): void {
    const queue = this.#queue;
    let head = this.#head;
    for (let entry = queue[head]; entry !== undefined && entry.ready; entry = queue[head]) {
      queue[head++] = undefined;
      // A render that throws costs its own reply only: #head must still move past the slot.
      try {
        const body = entry.render(entry.value, entry.inReplyTo, this.#nextMsgId);
        if (body === undefined) continue;
        let text: string;
        if (typeof body === "string") text = body;
        else {
          body["msg_id"] = this.#nextMsgId;
          text = dumps(body);
        }
        // dumps({ src, dest, body }), without building the envelope and with its start cached.
        this.#buffer += this.#envelopeStart(entry.src) + quote(entry.dest) + ', "body": ' + text + "}\n";
        this.#nextMsgId++;
      } catch (error) {
        this.#onError(error, entry.inReplyTo);
      }
    }
    if (head === queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (head > 4096 && head * 2 > queue.length) {
      this.#queue = queue.slice(head);
      this.#head = 0;
    } else {
      this.#head = head;
    }
    this.#checkLowWater();
    if (this.#buffer.length >= this.#batchBytes) this.flush();
    else if (!this.#flushScheduled && (this.#buffer !== "" || this.#idle.length > 0)) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }
}
