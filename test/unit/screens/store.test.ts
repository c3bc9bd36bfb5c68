// The store folds every message and publishes at most maxFps states a second; the view
// helpers: sparkline, countdown, what changed.
import { describe, expect, it } from 'vitest';
import { stateFromTranscript } from '../../../src/lab/record.js';
import { initialState, reduceAll } from '../../../src/lab/state.js';
import type { HostMessage } from '../../../src/wire/protocol.js';
import { replayTranscript } from '../../../src/wire/transcript.js';
import { LabStore, type Timers } from '../../../src/screens/store.js';
import { changesBetween, leaseRows, sparkline } from '../../../src/screens/view.js';
import { fixture } from './harness.js';

function fakeTimers() {
  let now = 0;
  const queue: Array<{ at: number; fn: () => void; id: number }> = [];
  let ids = 0;
  const timers: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++ids;
      queue.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (h) => {
      const i = queue.findIndex((q) => q.id === h);
      if (i >= 0) queue.splice(i, 1);
    },
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      queue.sort((a, b) => a.at - b.at);
      const next = queue[0];
      if (!next || next.at > end) break;
      queue.shift();
      now = next.at;
      next.fn();
    }
    now = end;
  };
  return { timers, advance };
}

const event = (t: number): HostMessage => ({ kind: 'event', t, src: 'fs_dax', name: 'dax_pte_fault', fields: {} });

describe('LabStore', () => {
  it('folds every message but publishes at most 15 states a second', () => {
    const { timers, advance } = fakeTimers();
    const store = new LabStore(initialState(), { timers });
    let renders = 0;
    store.subscribe(() => renders++);
    // 1,000 messages a second for 2 seconds.
    for (let i = 0; i < 2000; i++) {
      store.dispatch(event(i / 1000));
      advance(1);
    }
    advance(100);
    expect(store.state.eventCount).toBe(2000);
    expect(store.getSnapshot()).toBe(store.state);
    expect(renders).toBeLessThanOrEqual(2 * 15 + 1);
    expect(renders).toBeGreaterThanOrEqual(2 * 15 - 1);
    expect(store.stats).toMatchObject({ messages: 2000, frames: renders });
    expect(store.stats.maxBatch).toBeGreaterThanOrEqual(66);
  });

  it('publishes a lone message within one frame interval, and never twice for nothing', () => {
    const { timers, advance } = fakeTimers();
    const store = new LabStore(initialState(), { timers });
    let renders = 0;
    store.subscribe(() => renders++);
    store.dispatch(event(1));
    advance(0);
    expect(renders).toBe(1);
    store.flush();
    expect(renders).toBe(1);
    store.dispatch(event(2));
    advance(30);
    expect(renders).toBe(1); // 30 ms after the last frame: not yet
    advance(40);
    expect(renders).toBe(2);
  });

  it('folds a transcript into the same state live and replayed', () => {
    const file = fixture('vmsplice-vs-punch-xfs.jsonl');
    const { state } = stateFromTranscript(file);
    const store = new LabStore();
    for (const m of replayTranscript(file).messages) store.dispatch(m);
    store.flush();
    expect(store.state).toEqual(state);
    store.dispose();
  });
});

describe('view helpers', () => {
  it('sparkline: buckets keep a one-sample spike, a flat series stays flat', () => {
    const series = [1, 1, 1, 1, 1, 1, 1025, 1, 1, 1, 1, 1];
    expect(sparkline(series, 4)).toBe('▁▁█▁'); // 3 samples a cell: the spike is in the third
    expect(sparkline([1, 1, 1], 3)).toBe('▁▁▁');
    expect(sparkline([1, 2], 10)).toBe('▁█');
  });

  it('lease countdown: breakLeftMs from the snapshot, minus the guest time since', () => {
    const { state } = stateFromTranscript(fixture('lease-xfs.jsonl'));
    // The transcript ends after the truncate: no lease left.
    expect(leaseRows(state)).toEqual([]);
    const snap = {
      kind: 'snapshot' as const, t: 10, seq: 1, pages: [], locks: [], actors: [], vmstat: {}, dropped: { events: 0, snapshots: 0 },
      leases: [{ file: 'leased', type: 'LEASE', state: 'BREAKING', mode: 'UNLCK', pid: 7, breakLeftMs: 4000, raw: '' }],
    };
    const s = reduceAll([snap, event(11.5)]);
    expect(leaseRows(s)[0]).toMatchObject({ breaking: true, leftMs: 2500 });
    expect(leaseRows(reduceAll([snap, event(20)]))[0]!.leftMs).toBe(0);
  });

  it('what changed: a page rising above idle and a lock taken', () => {
    const page = (ref: number) => ({ file: 'victim', index: 0, pfn: '0x1', zoneDevice: true, ref, idle: 1, aboveIdle: ref - 1, pins: 0, mapcount: 0, flags: [], mapping: 'victim', pageIndex: 0, entry: 'unlocked' as const });
    const lock = (state: 'free' | 'write') => ({ file: 'victim', lock: 'i_rwsem' as const, addr: '0x1', state, readers: 0, owner: state === 'write' ? { pid: 5, comm: 'truncator' } : null, waiters: [], handoff: false });
    const snap = (t: number, ref: number, l: 'free' | 'write') => ({ kind: 'snapshot' as const, t, seq: t, pages: [page(ref)], locks: [lock(l)], actors: [], leases: [], vmstat: {}, dropped: { events: 0, snapshots: 0 } });
    const a = reduceAll([snap(1, 1, 'free')]);
    const b = reduceAll([snap(2, 2, 'write')], a);
    expect(changesBetween(a, b)).toEqual([
      { panel: 'pages', row: 'victim#0', text: 'victim#0 refcount 1 → 2 (+1; 1 above idle)' },
      { panel: 'locks', row: 'victim:i_rwsem', text: 'i_rwsem of victim: free → write by truncator' },
    ]);
  });
});
