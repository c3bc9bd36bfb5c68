// Kill trials (issue 11): daxlab run stopped by SIGINT, SIGTERM or SIGKILL at boot, at
// set-up and mid-scenario, a QEMU stopped then killed under a running scenario, and a
// frozen guest (its vCPUs stopped: QEMU runs and answers QMP, only the agent's heartbeat
// stops). Each asserts the exit code, that no QEMU outlives the trial, and that no socket
// directory or NVDIMM image is left (after kill -9: once the next start has swept). Then
// an agent stopped inside a live guest (SIGSTOP from the guest's own busybox): the host
// must notice by the heartbeat alone. A few minutes.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../src/config/profiles.js';
import { silentProgress } from '../../src/vm/progress.js';
import { AGENT_SILENT_MS, GuestLostError, GuestSession } from '../../src/vm/session.js';
import type { HeartbeatMessage } from '../../src/wire/protocol.js';
import { killTrial, type Fault, type Phase } from './killTrial.js';
import { processState } from '../../src/vm/watchdog.js';

const trials: Array<[Fault, Phase]> = [
  ['SIGINT', 'boot'],
  ['SIGTERM', 'setup'],
  ['SIGINT', 'setup'],
  ['SIGTERM', 'scenario'],
  ['SIGKILL', 'scenario'],
  ['qemu-stop-kill', 'scenario'],
  ['guest-freeze', 'scenario'],
  ['bad:missing-file', 'scenario'],
  ['bad:dull-race', 'scenario'],
];

describe('kill trials', () => {
  it.each(trials)('%s at %s: the right exit, nothing left behind, no stack trace', async (fault, phase) => {
    const r = await killTrial(fault, phase);
    const summary = `${fault}@${phase}: exit ${r.exit}${r.freezeNote ? ` (${r.freezeNote})` : ''}\n${r.stderrTail}`;
    console.log(`${fault}@${phase}: exit ${r.exit} in ${r.ms} ms; longest agent silence before the fault ${r.longestSilenceMs} ms${r.noticedMs === null ? '' : `; noticed ${r.noticedMs} ms after the freeze`}`);
    expect(r.exit, summary).toBe(r.expected);
    expect(r.orphans, summary).toBe(0);
    expect(r.staleFiles, summary).toEqual([]);
    expect(r.stackTraces, summary).toBe(0);
    expect(r.ourBug, summary).toBe(false);
    expect(r.saysWhy, summary).toBe(true);
    if (fault === 'qemu-stop-kill') expect(r.stderrTail).toMatch(/the guest stopped running/);
    if (fault === 'guest-freeze') {
      expect(r.freezeNote, summary).toMatch(/frozen [1-9]/);
      // Only the agent's silence can tell: QEMU was neither stopped nor silent on QMP.
      expect(r.stderrTail, summary).toMatch(/the guest agent has sent nothing for \d+ s/);
      expect(r.stderrTail, summary).toMatch(/QEMU says the guest is "running"/);
      expect(r.noticedMs, summary).toBeLessThan(AGENT_SILENT_MS + 15_000);
    }
    // A signal during set-up: the scenario never started.
    if (phase !== 'scenario' && fault !== 'SIGKILL') expect(r.stderrTail).not.toMatch(/^dma-vs-truncate: /m);
  });
});

describe('the agent heartbeat', () => {
  it('an agent stopped inside the guest is noticed within seconds, with the last state, and QEMU is ended', async () => {
    const session = await GuestSession.boot(loadProfile('default'), { progress: silentProgress });
    const beats: HeartbeatMessage[] = [];
    session.channel.on('message', (m) => m.kind === 'heartbeat' && beats.push(m));
    const lost = session.lost.catch((err: unknown) => err);
    try {
      // Idle, the agent still beats: about once a second of guest time.
      await sleep(4000);
      expect(beats.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < beats.length; i++) {
        expect(beats[i]!.seq).toBe(beats[i - 1]!.seq + 1);
        expect(beats[i]!.t - beats[i - 1]!.t).toBeGreaterThanOrEqual(0.99);
      }
      const agent = session.ready.pid!;
      const qemu = session.qemuPid!;
      // busybox, run by the agent, stops its own parent: the guest kernel and QEMU go on.
      const stoppedAt = Date.now();
      void session.channel.request({ cmd: 'exec', argv: ['/bin/busybox', 'kill', '-STOP', String(agent)] }).catch(() => {});
      const err = await Promise.race([lost, sleep(AGENT_SILENT_MS + 15_000).then(() => null)]);
      const noticedMs = Date.now() - stoppedAt;
      expect(err).toBeInstanceOf(GuestLostError);
      const message = (err as Error).message;
      expect(message).toMatch(/the guest agent has sent nothing for \d+ s/);
      expect(message).toMatch(/QEMU says the guest is "running"/);
      expect(message).toMatch(/--- console tail/);
      expect(message).toContain(session.transcript);
      // Not sooner than the silence it needs (the beats before the stop came on time), and within seconds of it.
      expect(noticedMs).toBeGreaterThanOrEqual(AGENT_SILENT_MS - 1500);
      expect(noticedMs).toBeLessThan(AGENT_SILENT_MS + 5000);
      // The lost guest's QEMU is ended at once.
      for (let i = 0; i < 40 && processState(qemu) !== null && processState(qemu) !== 'Z'; i++) await sleep(100);
      expect(processState(qemu) ?? 'gone').toMatch(/gone|Z/);
    } finally {
      await session.shutdown();
    }
    expect(fs.existsSync(session.transcript)).toBe(true);
  });
});
