// The self-test turns a probe the kernel lacks (or has but never calls) into a cross-check
// that is not applicable, with the agent's reason, instead of a failed one.
import { expect, it } from 'vitest';
import { probeUnavailable, type TraceReply } from '../../src/lab/selftest.js';

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
