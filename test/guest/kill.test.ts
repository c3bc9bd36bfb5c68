// Kill trials (issue 11): daxlab run stopped by SIGINT, SIGTERM or SIGKILL at boot, at
// set-up and mid-scenario, and a QEMU stopped then killed under a running scenario. Each
// asserts the exit code, that no QEMU outlives the trial, and that no socket directory
// or NVDIMM image is left (after kill -9: once the next start has swept). A few minutes.
import { describe, expect, it } from 'vitest';
import { killTrial, type Fault, type Phase } from './killTrial.js';

const trials: Array<[Fault, Phase]> = [
  ['SIGINT', 'boot'],
  ['SIGTERM', 'setup'],
  ['SIGINT', 'setup'],
  ['SIGTERM', 'scenario'],
  ['SIGKILL', 'scenario'],
  ['qemu-stop-kill', 'scenario'],
];

describe('kill trials', () => {
  it.each(trials)('%s at %s: the right exit, nothing left behind, no stack trace', async (fault, phase) => {
    const r = await killTrial(fault, phase);
    const summary = `${fault}@${phase}: exit ${r.exit}\n${r.stderrTail}`;
    expect(r.exit, summary).toBe(r.expected);
    expect(r.orphans, summary).toBe(0);
    expect(r.staleFiles, summary).toEqual([]);
    expect(r.stackTraces, summary).toBe(0);
    expect(r.ourBug, summary).toBe(false);
    if (fault === 'qemu-stop-kill') expect(r.stderrTail).toMatch(/the guest stopped running/);
    // A signal during set-up: the scenario never started.
    if (phase !== 'scenario' && fault !== 'SIGKILL') expect(r.stderrTail).not.toMatch(/^dma-vs-truncate: /m);
  });
});
