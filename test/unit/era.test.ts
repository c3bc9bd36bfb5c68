// The kernel era module: one version parser, the pin bias the guest's C side divides by,
// the measured idle baseline taken from the agent's reply as it is (never a rule).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareVersion, eraOf, eventObservability, expectedDevdax, expectedFsdaxIdle, GUP_PIN_COUNTING_BIAS, kernelVersion, longtermRefusals, measuredDevdaxIdle, measuredFsdaxIdle, releaseAtLeast } from '../../src/lab/era.js';

describe('kernel era', () => {
  it('parses releases as the distributions write them', () => {
    expect(kernelVersion('6.1.0-31-amd64')).toEqual([6, 1]);
    expect(kernelVersion('6.12.95+deb12-amd64')).toEqual([6, 12]);
    expect(kernelVersion('7.2.13+deb14-amd64')).toEqual([7, 2]);
    expect(kernelVersion('not-a-release')).toEqual([0, 0]);
    // 6.12 is after 6.2: compared as numbers, not text.
    expect(compareVersion(kernelVersion('6.12.0'), kernelVersion('6.2.0'))).toBeGreaterThan(0);
    expect(releaseAtLeast('6.15.0-rc1', '6.15')).toBe(true);
    expect(releaseAtLeast('6.14.9', '6.15')).toBe(false);
  });

  it('has the pin bias the guest observer divides by (kstate.h)', () => {
    const header = fs.readFileSync(path.join(import.meta.dirname, '../../src/vm/guest/kstate/kstate.h'), 'utf8');
    const c = /#define\s+KSTATE_GUP_PIN_COUNTING_BIAS\s+(\d+)/.exec(header);
    expect(c, 'kstate.h defines KSTATE_GUP_PIN_COUNTING_BIAS').not.toBeNull();
    expect(GUP_PIN_COUNTING_BIAS).toBe(Number(c![1]));
  });

  it('takes the idle baseline the agent measured, and none when it could not measure', () => {
    expect(measuredFsdaxIdle({ baselines: { fsdax: { known: true, measured: true, idle: 0 } } })).toBe(0);
    expect(measuredFsdaxIdle({ baselines: { fsdax: { known: false, error: 'no BTF' } } })).toBeNull();
    expect(measuredFsdaxIdle({})).toBeNull();
    // The era of a kernel is what was observed on it, whatever its version predicts.
    const era = eraOf({ release: '6.1.0-31-amd64', btf: true }, { baselines: { fsdax: { known: true, idle: 0 } } });
    expect(era.fsdaxIdle).toBe(0);
    expect(expectedFsdaxIdle(era.release)).toBe(1);
    expect(expectedFsdaxIdle('7.2.13+deb14-amd64')).toBe(0);
  });

  it('keeps device-dax apart from fsdax: 1-based on every era, mappings counted from v6.15', () => {
    // The prediction the self-test holds the calibration against; the lab uses the calibration.
    expect(expectedDevdax('6.1.0-57-amd64')).toEqual({ idle: 1, mappingsHoldRefs: false });
    expect(expectedDevdax('6.12.95+deb12-amd64')).toEqual({ idle: 1, mappingsHoldRefs: false });
    expect(expectedDevdax('7.2.13+deb14-amd64')).toEqual({ idle: 1, mappingsHoldRefs: true });
    expect(expectedFsdaxIdle('7.2.13+deb14-amd64')).not.toBe(expectedDevdax('7.2.13+deb14-amd64').idle);
    expect(measuredDevdaxIdle({ baselines: { fsdax: { known: true, idle: 0 }, devdax: { known: true, idle: 1 } } })).toBe(1);
    expect(measuredDevdaxIdle({ baselines: { devdax: { known: false, error: 'no device-dax device' } } })).toBeNull();
  });

  it("knows io_uring's own refusal of device-dax only where the source has it", () => {
    expect(longtermRefusals('6.1.0-31-amd64').map((r) => r.who)).toEqual(['gup', 'io_uring']);
    expect(longtermRefusals('6.12.95+deb12-amd64').map((r) => r.who)).toEqual(['gup']);
  });
});

describe('what the lab can observe on a kernel', () => {
  // A 7.x-like reply: xfs_break_dax_layouts exists but is not called; fs_dax lost dax_insert_mapping.
  const reply = {
    kprobes: ['dax_break_layout', 'dax_layout_busy_page_range__return'],
    kprobesFailed: ['xfs_break_dax_layouts', 'xfs_break_dax_layouts__return'],
    kprobeStatus: [
      { name: 'xfs_break_dax_layouts', function: 'xfs_break_dax_layouts', status: 'not called', why: 'exists but is not called: inlined into xfs_break_layouts()' },
      { name: 'xfs_break_dax_layouts__return', function: 'xfs_break_dax_layouts', status: 'not called' },
    ],
    tracepoints: ['fs_dax:dax_pmd_fault', 'filelock:break_lease_block'],
  };
  it('an event only a kprobe that is not attached could produce cannot be seen, with the agent\'s reason', () => {
    const o = eventObservability('^xfs_break_dax_layouts', reply);
    expect(o.observable).toBe(false);
    expect(!o.observable && o.why).toMatch(/xfs_break_dax_layouts: exists but is not called: inlined/);
  });
  it('an attached kprobe, or a tracepoint the kernel listed, can', () => {
    expect(eventObservability('^dax_layout_busy_page_range__return$', reply)).toEqual({ observable: true });
    expect(eventObservability('^break_lease_block$', reply)).toEqual({ observable: true });
  });
  it('a tracepoint this kernel does not have cannot; nor anything without tracing', () => {
    expect(eventObservability('^dax_insert_mapping$', reply).observable).toBe(false);
    expect(eventObservability('anything', null).observable).toBe(false);
  });
});
