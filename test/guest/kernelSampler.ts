// What the guest tests expect of the observer's default sampler on every kernel era.
import { expect } from 'vitest';
import type { SelftestReport } from '../../src/lab/selftest.js';

/**
 * The default sampler read kernel memory on this kernel (no fallback), with a gather and no
 * pagemap read in its snapshot: the reasons it would fall back are null.
 */
export function expectKernelSampler(report: SelftestReport): void {
  const agree = report.checks.find((c) => c.id === 'samplers-agree')!.observed as {
    sampler: { kind: string; gather: string | null; actors: string | null };
    syscalls: { kernel: Record<string, number> | null };
  };
  expect(agree.sampler).toEqual({ kind: 'kernel', gather: null, actors: null });
  expect(agree.syscalls.kernel?.gather).toBeGreaterThanOrEqual(1);
  expect(agree.syscalls.kernel?.pagemap).toBe(0);
}
