// The TUI's fast paths (src/screens/perf.ts) change the speed and nothing else: the batched
// fold is the per-message fold, and the dashboard draws the same frames with the memoised
// view models as with the ones rebuilt every frame.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { initialState, reduceAll, reduceMany } from '../../../src/lab/state.js';
import type { EventMessage, HostMessage } from '../../../src/wire/protocol.js';
import { replayTranscript } from '../../../src/wire/transcript.js';
import { fastPaths } from '../../../src/screens/perf.js';
import { ReplayController } from '../../../src/screens/replay.js';
import { delay, fixture, renderApp } from './harness.js';

const FIXTURES = ['selftest-xfs.jsonl', 'vmsplice-vs-punch-xfs.jsonl', 'dma-vs-truncate-xfs.jsonl', 'lease-xfs.jsonl'];

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Fold in batches of the given sizes (cycled), as the store folds a frame's messages. */
function inBatches(messages: readonly HostMessage[], sizes: readonly number[], limits = {}) {
  let s = initialState(limits);
  for (let i = 0, k = 0; i < messages.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length]!);
    s = reduceMany(s, messages.slice(i, i + n));
    i += n;
  }
  return s;
}

afterEach(() => {
  fastPaths.batchFold = true;
  fastPaths.memoViews = true;
  fastPaths.clipRowsOnly = true;
});

describe('reduceMany', () => {
  it('folds every recorded transcript into the state reduceAll folds, in any batching', () => {
    for (const name of FIXTURES) {
      const messages = replayTranscript(fixture(name)).messages.map(deepFreeze);
      const expected = reduceAll(messages);
      for (const sizes of [[1], [2], [7, 1, 300], [messages.length]]) expect(inBatches(messages, sizes), `${name} in batches of ${sizes}`).toEqual(expected);
      // With small limits, so that batches evict.
      const small = { events: 5, actions: 3 };
      expect(inBatches(messages, [50, 3], small), `${name}, small limits`).toEqual(reduceAll(messages, initialState(small)));
    }
  });

  it('folds any run of events, locks and eviction included, as one reduce per event does', () => {
    const event = fc.record({
      t: fc.double({ min: 0, max: 100, noNaN: true }),
      src: fc.constantFrom('fs_dax', 'lock', 'daxlab'),
      name: fc.constantFrom('dax_pte_fault', 'contention_begin', 'contention_end'),
      lock: fc.option(fc.constantFrom('victim:i_rwsem', 'victim:invalidate_lock'), { nil: undefined }),
    });
    const message = fc.oneof(
      { weight: 8, arbitrary: event.map(({ lock, ...e }): HostMessage => ({ kind: 'event', fields: {}, ...e, ...(lock === undefined ? {} : { lock }) }) as EventMessage) },
      { weight: 1, arbitrary: fc.double({ min: 0, max: 100, noNaN: true }).map((t): HostMessage => ({ kind: 'signal', t, actor: 'a', pid: 1, signal: 'SIGIO' })) },
    );
    fc.assert(
      fc.property(fc.array(message, { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 8 }), (messages, sizes, cap) => {
        messages.forEach(deepFreeze);
        const limits = { events: cap, signals: 3 };
        expect(inBatches(messages, sizes, limits)).toEqual(reduceAll(messages, initialState(limits)));
      }),
    );
  });
});

/** The dashboard at a point of a replay, with the fast paths on or off. */
async function frameAt(name: string, t: number, on: boolean, keys: string[] = []): Promise<string> {
  fastPaths.batchFold = on;
  fastPaths.memoViews = on;
  fastPaths.clipRowsOnly = on;
  const c = new ReplayController(fixture(name), { paused: true });
  c.runUntil(t);
  const app = renderApp(c, 'live');
  try {
    await delay();
    await app.press(...keys);
    // A loaded machine renders late: the frame once it stops changing.
    let last = app.screen();
    for (let same = 0, i = 0; same < 3 && i < 100; i++) {
      await delay(40);
      const now = app.screen();
      same = now === last ? same + 1 : 0;
      last = now;
    }
    return last;
  } finally {
    app.unmount();
    await c.shutdown();
  }
}

describe('the dashboard with and without the fast paths', () => {
  it('draws the same frames along every recorded run, panels and timeline', async () => {
    for (const name of FIXTURES) {
      const messages = replayTranscript(fixture(name)).messages;
      const ts = messages.map((m) => m.t);
      const end = Math.max(...ts);
      for (const t of [end / 2, Infinity]) {
        for (const keys of [[], ['t'], ['a', '/', 'd', 'a', 'x'], ['j', '\t', 'j', 'j']]) {
          const plain = await frameAt(name, t, false, keys);
          const fast = await frameAt(name, t, true, keys);
          expect(fast, `${name} at ${t} after ${keys.join('')}`).toBe(plain);
          expect(plain).toContain('daxlab');
        }
      }
    }
  }, 120_000);
});
