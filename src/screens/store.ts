// The screens' view of a run: the pure reducer runs on every message, the screens see a
// new state at most `maxFps` times a second. Nothing is dropped: every message is folded;
// only intermediate states go unrendered, and the counters say how many.
import { initialState, reduce, type LabState } from '../lab/state.js';
import type { HostMessage } from '../wire/protocol.js';

export type StoreStats = {
  /** Messages folded. */
  messages: number;
  /** States published to the screens. */
  frames: number;
  /** The most messages folded into one published state. */
  maxBatch: number;
};

export type Timers = {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
};

const realTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class LabStore {
  readonly stats: StoreStats = { messages: 0, frames: 0, maxBatch: 0 };
  private current: LabState;
  private published: LabState;
  private batch = 0;
  private lastPublish = -Infinity;
  private timer: unknown = null;
  private readonly listeners = new Set<() => void>();
  private readonly interval: number;

  constructor(
    state: LabState = initialState(),
    private readonly opts: { maxFps?: number; timers?: Timers } = {},
  ) {
    this.current = state;
    this.published = state;
    this.interval = 1000 / (opts.maxFps ?? 15);
  }

  private get timers(): Timers {
    return this.opts.timers ?? realTimers;
  }

  /** Fold one message; the screens see it within one frame interval. */
  dispatch = (message: HostMessage): void => {
    this.current = reduce(this.current, message);
    this.stats.messages++;
    this.batch++;
    this.schedule();
  };

  /** Replace the whole state (a replay that jumps, a fold of a transcript so far). */
  reset(state: LabState): void {
    this.current = state;
    this.batch++;
    this.flush();
  }

  /** The latest folded state (what the engine and the report read; screens use getSnapshot). */
  get state(): LabState {
    return this.current;
  }

  /** The state the screens render. */
  getSnapshot = (): LabState => this.published;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Publish now (end of a replay, a test). */
  flush = (): void => {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.published === this.current) return;
    this.published = this.current;
    this.stats.frames++;
    this.stats.maxBatch = Math.max(this.stats.maxBatch, this.batch);
    this.batch = 0;
    this.lastPublish = this.timers.now();
    for (const l of this.listeners) l();
  };

  private schedule(): void {
    if (this.timer !== null) return;
    const wait = Math.max(0, this.lastPublish + this.interval - this.timers.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  dispose(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }
}
