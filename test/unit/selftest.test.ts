// The self-test turns a probe the kernel lacks (or has but never calls) into a cross-check
// that is not applicable, with the agent's reason, instead of a failed one.
import { describe, expect, it } from 'vitest';
import { snapshotDifferences } from '../../src/lab/samplerCheck.js';
import { frameFunction, probesCalledCheck, probeUnavailable, type TraceReply } from '../../src/lab/selftest.js';
import type { ActorState, PageState } from '../../src/wire/protocol.js';
import { snap } from './messages.js';

const trace: TraceReply = {
  kprobes: ['dax_break_layout', 'dax_layout_busy_page_range__return', 'generic_pipe_buf_release'],
  kprobesFailed: ['xfs_break_dax_layouts', 'page_cache_pipe_buf_release'],
  kprobeStatus: [
    { name: 'xfs_break_dax_layouts', function: 'xfs_break_dax_layouts', status: 'not called', why: 'exists but is not called: inlined into its callers where dax_break_layout() exists (7.x)' },
    { name: 'page_cache_pipe_buf_release', function: 'page_cache_pipe_buf_release', status: 'unavailable', why: 'no function page_cache_pipe_buf_release in /proc/kallsyms' },
  ],
};

it('a cross-check is applicable when one of its probes is attached', () => {
  expect(probeUnavailable(trace, ['generic_pipe_buf_release', 'page_cache_pipe_buf_release'])).toBeNull();
  expect(probeUnavailable(trace, ['dax_layout_busy_page_range__return'])).toBeNull();
});

it('a probe that is missing or never called makes it not applicable, saying why', () => {
  const why = probeUnavailable(trace, ['xfs_break_dax_layouts']);
  expect(why).toMatch(/^not applicable: xfs_break_dax_layouts unavailable on this kernel/);
  expect(why).toContain('inlined into its callers');
  expect(probeUnavailable({ kprobes: [], kprobesFailed: [] }, ['a', 'b'])).toBe('not applicable: none of a, b unavailable on this kernel (a: not attached; b: not attached)');
});

it('names the function of a /proc stack frame', () => {
  expect(frameFunction('[<0>] xfs_break_layouts+0x4c/0x1a0 [xfs]')).toBe('xfs_break_layouts');
  expect(frameFunction('dax_break_layout+0x97/0x1f0')).toBe('dax_break_layout');
  expect(frameFunction('xfs_break_dax_layouts.isra.0+0x12/0x80 [xfs]')).toBe('xfs_break_dax_layouts.isra.0');
  expect(frameFunction('garbage')).toBeNull();
});

describe('probes-called: the call-site measurement against the hits', () => {
  const traced: TraceReply = {
    kprobes: ['xfs_break_layouts', 'dax_break_layout'],
    kprobesFailed: ['xfs_break_dax_layouts'],
    callScan: { measured: true, ms: 300 },
    kprobeStatus: [
      { name: 'xfs_break_layouts', function: 'xfs_break_layouts', status: 'attached', attached: true, callSites: 3, addressRefs: 0 },
      { name: 'dax_break_layout', function: 'dax_break_layout', status: 'attached', attached: true, callSites: 2, addressRefs: 0 },
      { name: 'xfs_break_dax_layouts', function: 'xfs_break_dax_layouts', status: 'not called', attached: true, callSites: 0, addressRefs: 0 },
      { name: 'ext4_break_layouts', function: 'ext4_break_layouts', status: 'unavailable', attached: false },
    ],
  };
  const hits = (n: Record<string, number>) => ({ probes: Object.entries(n).map(([name, h]) => ({ name, hits: h, missed: 0 })) });
  const stack = new Set(['xfs_break_layouts', 'dax_break_layout', 'xfs_wait_dax_page']);

  it('holds when the uncalled one never fired and the ones on the stack did', () => {
    const c = probesCalledCheck(traced, hits({ xfs_break_layouts: 2, dax_break_layout: 2, xfs_break_dax_layouts: 0 }), stack);
    expect(c.held && c.crossCheck?.held).toBe(true);
    expect(c.note).toContain('xfs_break_dax_layouts');
  });

  it('fails when a probe measured as not called fires', () => {
    const c = probesCalledCheck(traced, hits({ xfs_break_layouts: 2, dax_break_layout: 2, xfs_break_dax_layouts: 1 }), stack);
    expect(c.held).toBe(false);
  });

  it('fails the cross-check when a function on the stack never fired, or was measured as not called', () => {
    expect(probesCalledCheck(traced, hits({ xfs_break_layouts: 0, dax_break_layout: 2, xfs_break_dax_layouts: 0 }), stack).crossCheck?.held).toBe(false);
    const onStack = new Set([...stack, 'xfs_break_dax_layouts']);
    expect(probesCalledCheck(traced, hits({ xfs_break_layouts: 2, dax_break_layout: 2, xfs_break_dax_layouts: 0 }), onStack).crossCheck?.held).toBe(false);
  });

  it('without a measurement the cross-check is not applicable, with the reason', () => {
    const c = probesCalledCheck({ ...traced, callScan: { measured: false, error: 'kernel memory unreadable' } }, hits({ xfs_break_layouts: 2, dax_break_layout: 2, xfs_break_dax_layouts: 0 }), stack);
    expect(c.crossCheck?.notApplicable).toContain('kernel memory unreadable');
  });
});

describe('samplers-agree: a difference reads as the field that differs', () => {
  const page = (file: string, index: number, flags: string[], ref = 1) => ({ file, index, flags, ref }) as unknown as PageState;
  const actor = (name: string, state: string, blockedMs: number) => ({ name, pid: 7, state, stack: ['a'], blockedMs }) as unknown as ActorState;

  it('keys pages by file and index, locks by name and file, actors by name; blockedMs is left out', () => {
    const a = snap(1, { pages: [page('anon', 2, ['lru'])], actors: [actor('truncator', 'S', 10)] });
    const b = snap(2, { pages: [page('anon', 2, ['lru'])], actors: [actor('truncator', 'S', 90)] });
    expect(snapshotDifferences(a, b)).toEqual([]);
  });

  it('keeps two rows of one key apart (two actors watching one page)', () => {
    const a = snap(1, { pages: [page('victim', 0, [], 2), page('victim', 0, [], 2)] });
    const b = snap(2, { pages: [page('victim', 0, [], 2), page('victim', 0, [], 3)] });
    expect(snapshotDifferences(a, b)).toEqual(['pages.victim#0~2.ref: 2 -> 3']);
  });

  it('names each differing field with both values', () => {
    const a = snap(1, { pages: [page('anon', 2, ['referenced']), page('victim', 0, [], 2)], actors: [actor('reader', 'S', 1)] });
    const b = snap(2, { pages: [page('anon', 2, ['referenced', 'lru']), page('victim', 0, [], 1)], actors: [actor('reader', 'D', 1)] });
    expect(snapshotDifferences(a, b)).toEqual([
      'pages.anon#2.flags.1: (absent) -> "lru"',
      'pages.victim#0.ref: 2 -> 1',
      'actors.reader.state: "S" -> "D"',
    ]);
  });
});
