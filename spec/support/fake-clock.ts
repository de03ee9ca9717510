import type { Clock } from "../../lib/client/clock.js";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** Lets everything queued (promise callbacks, I/O callbacks, immediates) run once. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A {@link Clock} that only moves when told: specs set the time, never wait for it.
 *
 * @example
 *   const clock = new FakeClock();
 *   const call = client.call(...);
 *   await clock.advance(100);   // fires the timers due by then, in order
 */
export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();
  /** The delay of every timer ever set, in order. */
  readonly delays: number[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const seq = ++this.#seq;
    this.delays.push(ms);
    this.#timers.set(seq, { at: this.#now + Math.max(0, ms), seq, callback });
    return seq;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers set and neither fired nor cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing each timer due on the way at its own time, and lets the work they start run. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await turn();
    for (let next = this.#earliest(); next !== undefined && next.at <= until; next = this.#earliest()) {
      this.#timers.delete(next.seq);
      this.#now = next.at;
      next.callback();
      await turn();
    }
    this.#now = until;
    await turn();
  }

  /**
   * Runs `promise` to the end: lets pending work run and, whenever nothing else can happen,
   * jumps to the next timer. Fails if the promise waits on nothing this clock controls.
   */
  async run<T>(promise: Promise<T>): Promise<T> {
    let settled = false;
    void promise.then(() => (settled = true), () => (settled = true));
    for (let idle = 0; !settled; ) {
      await turn();
      if (settled) break;
      const next = this.#earliest();
      if (next !== undefined) {
        idle = 0;
        await this.advance(next.at - this.#now);
      } else if (++idle > 20) {
        throw new Error("FakeClock.run(): the promise waits on something other than this clock");
      }
    }
    return promise;
  }

  #earliest(): Timer | undefined {
    let earliest: Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (earliest === undefined || timer.at < earliest.at || (timer.at === earliest.at && timer.seq < earliest.seq)) earliest = timer;
    }
    return earliest;
  }
}
