// The screens' view of a run: every message is folded by the pure reducer, the screens see
// a new state at most `maxFps` times a second. Nothing is dropped: every message is folded;
// only intermediate states go unrendered, and the counters say how many. The messages of
// one frame are folded together when the frame is published (or when `state` is read):
// one copy of the event list per frame, not one per event.
//
// The frame clock: `maxFps` frames a second at most; with `minFps` below it, the clock
// slows down to keep a frame's cost (folding, React, Ink, the terminal write: measured
// from the publish to the end of the work it started) under half the frame interval, so a
// loaded machine or a slow terminal gets fewer frames instead of a falling-behind feed.
import { initialState, reduce, reduceMany, type LabState } from '../lab/state.js';
import type { HostMessage } from '../wire/protocol.js';
import { fastPaths } from './perf.js';

export type StoreStats = {
  /** Messages folded. */
  messages: number;
  /** States published to the screens. */
  frames: number;
  /** The most messages folded into one published state. */
  maxBatch: number;
  /** Time spent folding messages (ms). */
  foldMs: number;
  /** The frame interval the clock runs at now (ms): 1000 / maxFps unless the frames cost more. */
  intervalMs: number;
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

export type FrameClock = {
  /** Frames a second at most (default 15). */
  maxFps?: number;
  /** Frames a second the clock may slow down to when frames cost more than half their interval (default: maxFps, a fixed clock). */
  minFps?: number;
};

export class LabStore {
  readonly stats: StoreStats = { messages: 0, frames: 0, maxBatch: 0, foldMs: 0, intervalMs: 0 };
  private current: LabState;
  /** Dispatched, not yet folded into `current` (fastPaths.batchFold). */
  private pending: HostMessage[] = [];
  private published: LabState;
  private batch = 0;
  private lastPublish = -Infinity;
  private timer: unknown = null;
  private readonly listeners = new Set<() => void>();
  private interval = 0;
  private minInterval = 0;
  private maxInterval = 0;
  /** A frame's measured cost (ms), smoothed. */
  private frameCost = 0;
  private measuring = false;

  constructor(
    state: LabState = initialState(),
    private readonly opts: { maxFps?: number; minFps?: number; timers?: Timers } = {},
  ) {
    this.current = state;
    this.published = state;
    this.setFrameClock(opts);
  }

  /** Frames a second at most. */
  maxFps = 15;

  /** Set the frame clock (the TUI: 30 frames a second, down to 15 when frames cost more). */
  setFrameClock(clock: FrameClock): void {
    const max = clock.maxFps ?? 15;
    this.maxFps = max;
    this.minInterval = 1000 / max;
    this.maxInterval = 1000 / Math.min(max, clock.minFps ?? max);
    this.interval = Math.max(this.minInterval, Math.min(this.maxInterval, this.interval));
    this.stats.intervalMs = this.interval;
  }

  private get timers(): Timers {
    return this.opts.timers ?? realTimers;
  }

  /** Fold one message; the screens see it within one frame interval. */
  dispatch = (message: HostMessage): void => {
    if (fastPaths.batchFold) this.pending.push(message);
    else {
      const t0 = performance.now();
      this.current = reduce(this.current, message);
      this.stats.foldMs += performance.now() - t0;
    }
    this.stats.messages++;
    this.batch++;
    this.schedule();
  };

  /** Replace the whole state (a replay that jumps, a fold of a transcript so far). */
  reset(state: LabState): void {
    // Messages not folded yet would have been folded into the state this one replaces.
    this.pending = [];
    this.current = state;
    this.batch++;
    this.flush();
  }

  /** The latest folded state (what the engine and the report read; screens use getSnapshot). */
  get state(): LabState {
    this.fold();
    return this.current;
  }

  private fold(): void {
    if (!this.pending.length) return;
    const t0 = performance.now();
    const batch = this.pending;
    this.pending = [];
    this.current = reduceMany(this.current, batch);
    this.stats.foldMs += performance.now() - t0;
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
    const began = this.timers.now();
    this.fold();
    if (this.published === this.current) return;
    this.published = this.current;
    this.stats.frames++;
    this.stats.maxBatch = Math.max(this.stats.maxBatch, this.batch);
    this.batch = 0;
    this.lastPublish = began;
    for (const l of this.listeners) l();
    if (this.maxInterval > this.minInterval) this.measure(began);
  };

  /**
   * The frame's cost: from its publish until the work it started is done (React renders in
   * a microtask, Ink writes in the commit; setImmediate runs after both). The clock keeps
   * the cost under half the interval, between 1000/maxFps and 1000/minFps.
   */
  private measure(began: number): void {
    if (this.measuring) return;
    this.measuring = true;
    setImmediate(() => {
      this.measuring = false;
      const cost = this.timers.now() - began;
      this.frameCost = this.frameCost ? 0.7 * this.frameCost + 0.3 * cost : cost;
      this.interval = Math.max(this.minInterval, Math.min(this.maxInterval, 2 * this.frameCost));
      this.stats.intervalMs = this.interval;
    });
  }

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
