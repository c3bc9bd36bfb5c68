// The other kernel eras: bookworm-backports' 6.12 (profile lts-6.12) and sid's 7.2 (profile
// sid), beside the default 6.1 that the rest of the suite runs on. Each era gets the
// self-test and, in one shared guest, the scenarios whose verdicts differ between eras
// (NOTES.md, "What each era's source says"): dma-vs-truncate (6.1's missing wake-up),
// vmsplice-vs-punch (the unmapped-file shortcut before v6.15), longterm-pin (io_uring on
// device-dax) and pin-accounting (FOLL_PIN for O_DIRECT, 0-based fsdax refcounts). The
// checks are the same era-following ones as on 6.1 (scenario-checks.ts): what the lab
// reports is checked against what the guest shows by other means.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedFsdaxIdle } from '../../src/lab/era.js';
import type { SelftestReport } from '../../src/lab/selftest.js';
import { daxlab, qemuProcessesOf } from './cli.js';
import { expectKernelSampler } from './kernelSampler.js';
import { BREAK_LAYOUTS, bootGuest, dmaVsTruncate, longtermPin, pinAccounting, stopGuest, vmspliceVsPunch, type Guest } from './scenario-checks.js';

type Report = SelftestReport & { runDir: string };

const ERAS = [
  { profile: 'lts-6.12', release: /^6\.12\./ },
  { profile: 'sid', release: /^7\./ },
] as const;

for (const era of ERAS) {
  describe(`kernel era: profile ${era.profile}`, () => {
    it('selftest: every reader holds against its cross-check; the baseline is the measured one', async () => {
      const r = await daxlab(['selftest', '--profile', era.profile, '--json']);
      const report = JSON.parse(String(r.stdout)) as Report;
      expect(report.kernel.release).toMatch(era.release);
      const failed = report.checks.filter((c) => !c.held || c.crossCheck?.held === false);
      expect(failed, JSON.stringify(failed, null, 1)).toEqual([]);
      expect(r.exitCode).toBe(0);
      // The idle refcount the agent measured agrees with where this release sits in history.
      expect(report.kernel.idleBaseline).toBe(expectedFsdaxIdle(report.kernel.release));
      const truncate = report.checks.find((c) => c.id === 'truncate-while-referenced')?.observed as { state: string; stack: string[] } | undefined;
      expect(truncate?.state).toBe('S');
      expect(truncate?.stack.some((f) => BREAK_LAYOUTS.test(f))).toBe(true);
      expectKernelSampler(report);
      expect(await qemuProcessesOf(path.basename(report.runDir))).toEqual([]);
    });

    describe('the scenarios that differ between eras (one guest)', () => {
      let g: Guest | undefined;
      beforeAll(async () => {
        g = await bootGuest(era.profile);
        expect(g.session.ready.release).toMatch(era.release);
      });
      afterAll(async () => {
        await stopGuest(g);
      });

      it('dma-vs-truncate: woken or not as /proc, stat and null_blk show', async () => {
        await dmaVsTruncate(g!);
      });

      it('vmsplice-vs-punch: after munmap the punch waits, or frees the block under the pipe, as stat shows', async () => {
        await vmspliceVsPunch(g!);
      });

      it('longterm-pin: what io_uring and RDMA accept, against fdinfo, the MR list and /proc/vmstat', async () => {
        await longtermPin(g!);
      });

      it('pin-accounting: the table of deltas, its pins against /proc/vmstat', async () => {
        await pinAccounting(g!);
      });
    });
  });
}
