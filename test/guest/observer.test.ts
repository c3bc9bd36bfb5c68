// The observer against the running kernel: the self-test on xfs and ext4 (each value
// checked against the kernel era and against an independent source), and what happens
// when things break: BTF missing, the agent dying.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LabDriver } from '../../src/lab/driver.js';
import { loadProfile } from '../../src/config/profiles.js';
import { replayTranscript } from '../../src/wire/transcript.js';
import { expectedFsdaxIdle } from '../../src/lab/era.js';
import type { SelftestReport } from '../../src/lab/selftest.js';
import { expectKernelSampler } from './kernelSampler.js';
import { AgentError } from '../../src/wire/link.js';
import type { AgentMessage, SnapshotMessage } from '../../src/wire/protocol.js';
import { silentProgress } from '../../src/vm/progress.js';
import { GuestSession } from '../../src/vm/session.js';
import { daxlab, qemuProcessesOf } from './cli.js';

type Report = SelftestReport & { runDir: string };

async function selftest(profile: string): Promise<Report> {
  const r = await daxlab(['selftest', '--profile', profile, '--json']);
  const report = JSON.parse(String(r.stdout)) as Report;
  const failed = report.checks.filter((c) => !c.held || c.crossCheck?.held === false);
  expect(failed, JSON.stringify(failed, null, 1)).toEqual([]);
  expect(r.exitCode).toBe(0);
  expect(await qemuProcessesOf(path.basename(report.runDir))).toEqual([]);
  return report;
}

const check = (r: Report, id: string) => r.checks.find((c) => c.id === id)!;

// The shipped ext4 profile has no device-dax namespace, so no device-dax idle check.
for (const [profile, fs_, breakFn, devdax] of [
  ['default', 'xfs', 'xfs_break_dax_layouts', true],
  ['ext4', 'ext4', 'ext4_break_layouts', false],
] as const) {
  describe(`selftest on ${fs_}`, () => {
    it('observes the 6.1 facts and every cross-check holds', async () => {
      const report = await selftest(profile);
      expect(report.fs).toBe(fs_);
      expect(report.checks.map((c) => c.id)).toEqual([
        'fsdax-idle-refcount',
        ...(devdax ? ['devdax-idle-refcount'] : []),
        'vmsplice-ref',
        'vmsplice-drain',
        'anon-io_uring-pin',
        'fsdax-io_uring-register',
        'samplers-agree',
        'truncate-while-referenced',
        'rwsem-waiters',
        'probes-called',
      ]);
      expectKernelSampler(report);
      // The idle baseline the agent measured agrees with the kernel era of the release it booted.
      expect(report.kernel.idleBaseline).toBe(expectedFsdaxIdle(report.kernel.release));
      const idle = check(report, 'fsdax-idle-refcount').observed as { ref: number; zoneDevice: boolean };
      expect(idle.zoneDevice).toBe(true);
      const spliced = check(report, 'vmsplice-ref').observed as { ref: number; pins: number };
      expect(spliced.ref).toBe(idle.ref + 1);
      expect(spliced.pins).toBe(0);
      const pinned = check(report, 'anon-io_uring-pin').observed as { pins: number[]; aboveIdleAfter: number[] };
      expect(pinned.pins.every((p) => p === 1)).toBe(true);
      expect((check(report, 'anon-io_uring-pin').crossCheck!.value as number)).toBe(pinned.pins.length);
      expect((check(report, 'fsdax-io_uring-register').observed as { error: string }).error).toBe('EOPNOTSUPP');
      const truncate = check(report, 'truncate-while-referenced').observed as {
        state: string;
        stack: string[];
        locksSeen: Record<string, string[]>;
        stillBlockedAfter1s: boolean;
        finished: boolean;
      };
      expect(truncate.state).toBe('S');
      expect(truncate.stack[0]).toMatch(new RegExp(`^${breakFn}\\+`));
      expect(truncate.stillBlockedAfter1s).toBe(true);
      expect(truncate.finished).toBe(true);
      // Both filesystems drop the mmap lock (invalidate_lock) around the sleep and keep
      // the inode lock, held for write by the truncating task.
      expect(truncate.locksSeen['invalidate_lock of victim']).toEqual(['free']);
      expect(truncate.locksSeen['i_rwsem of victim']!.every((s) => /^write by truncator\(\d+\)/.test(s))).toBe(true);
    });
  });
}

describe('leases', () => {
  it('shows a lease ACTIVE, then BREAKING with a countdown, as /proc/locks and the signal say', async () => {
    const session = await GuestSession.boot(loadProfile('default'), { progress: silentProgress });
    try {
      const lab = new LabDriver(session.channel);
      const signals: string[] = [];
      session.channel.on('message', (m) => m.kind === 'signal' && signals.push(`${m.actor}:${m.signal}`));
      for (const actor of ['holder', 'breaker']) await lab.startActor(actor);
      await lab.ok('holder', { op: 'open', path: 'leased', create: true, size: 8192 });
      await lab.ok('holder', { op: 'mmap', length: 8192, flags: ['MAP_SHARED'] });
      // A read of the hole maps the shared zero page; the write fault then maps the file's page.
      await lab.ok('holder', { op: 'touch', pages: [0], write: false });
      await lab.watchPages('holder', [0], 'leased');
      const zero = (await lab.sample()).pages[0]!;
      expect(zero.mapping).toBeNull();
      expect(zero.zoneDevice).toBe(false);
      await lab.ok('holder', { op: 'touch', pages: [0], write: true });
      const filePage = (await lab.sample()).pages[0]!;
      expect(filePage.pfn).not.toBe(zero.pfn);
      expect(filePage.zoneDevice).toBe(true);
      expect(filePage.mapping).toBe('leased');
      expect((await lab.sample()).leases).toEqual([]);
      await lab.ok('holder', { op: 'lease', type: 'write', signal: 'SIGRTMIN+1' });
      const active = (await lab.sample()).leases;
      const holderPid = (await lab.sample()).actors.find((a) => a.name === 'holder')!.pid;
      expect(active.map((l) => [l.file, l.type, l.state, l.mode, l.pid])).toEqual([['leased', 'LEASE', 'ACTIVE', 'WRITE', holderPid]]);
      expect(active[0]!.breakLeftMs).toBeNull();
      const truncate = await lab.start('breaker', { op: 'truncate', path: 'leased', size: 0 });
      const breaking = await lab.waitFor((snap) => snap.leases.some((l) => l.state === 'BREAKING'), 5000);
      expect(breaking).not.toBeNull();
      const lease = breaking!.leases.find((l) => l.state === 'BREAKING')!;
      // The signal is relayed by the agent's loop like the snapshot: it may come just after.
      for (let i = 0; i < 40 && !signals.includes('holder:SIGRTMIN+1'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(signals).toContain('holder:SIGRTMIN+1');
      // Independent source: /proc/locks read by busybox cat, and the lease-break-time sysctl.
      const procLocks = (await lab.busybox('cat', '/proc/locks')).stdout;
      expect(procLocks).toMatch(/LEASE\s+BREAKING/);
      const breakTime = Number((await lab.busybox('cat', '/proc/sys/fs/lease-break-time')).stdout);
      expect(lease.breakLeftMs).not.toBeNull();
      expect(lease.breakSource).toBe('kernel');
      expect(lease.breakLeftMs!).toBeLessThanOrEqual(breakTime * 1000);
      expect(lease.breakLeftMs!).toBeGreaterThan(0);
      const later = await lab.waitFor((snap) => (snap.leases.find((l) => l.state === 'BREAKING')?.breakLeftMs ?? Infinity) < lease.breakLeftMs! - 300, 3000);
      expect(later).not.toBeNull();
      // A cooperative holder lets the breaker through.
      await lab.ok('holder', { op: 'munmap' });
      await lab.ok('holder', { op: 'lease', type: 'unlock' });
      const end = await truncate.end;
      expect(end.error).toBeUndefined();
      expect((await lab.sample()).leases).toEqual([]);

      // Not a lease matter, but this guest is up: a slow program run through exec does not stop the stream of snapshots.
      await session.channel.request({ cmd: 'observe', hz: 10 });
      let snapshots = 0;
      const count = (m: { kind: string }) => m.kind === 'snapshot' && snapshots++;
      session.channel.on('message', count);
      const slept = await lab.busybox('sleep', '1');
      session.channel.off('message', count);
      await session.channel.request({ cmd: 'observe', hz: 0 });
      expect(slept.status).toBe(0);
      expect(snapshots).toBeGreaterThanOrEqual(5);

      // Snapshot deltas: while observing the agent sends only what changed; the snapshot the
      // host rebuilt equals a fresh full one, and the old sampler (legacy: no block cache, a
      // read per field, /proc opened per sample) reads the same page as the new one.
      await lab.startActor('delta');
      await lab.ok('delta', { op: 'open', path: 'deltas', create: true, size: 8192 });
      await lab.ok('delta', { op: 'mmap', length: 8192, flags: ['MAP_SHARED'] });
      await lab.ok('delta', { op: 'touch', pages: [0, 1], write: true });
      await lab.watchPages('delta', [0, 1], 'deltas');
      const kinds: string[] = [];
      let rebuilt: SnapshotMessage | null = null;
      const onLine = (line: string) => kinds.push((JSON.parse(line) as { kind: string }).kind);
      const onSnapshot = (m: AgentMessage) => m.kind === 'snapshot' && (rebuilt = m);
      session.channel.on('line', onLine);
      session.channel.on('message', onSnapshot);
      await session.channel.request({ cmd: 'observe', hz: 50 });
      await lab.ok('delta', { op: 'vmsplice', pages: [1] });
      const spliced = await lab.waitFor((snap) => snap.pages.some((p) => p.file === 'deltas' && p.index === 1 && p.aboveIdle === 1), 3000);
      expect(spliced).not.toBeNull();
      await lab.ok('delta', { op: 'drain' });
      const drained = await lab.waitFor((snap) => snap.pages.some((p) => p.file === 'deltas' && p.index === 1 && p.aboveIdle === 0), 3000);
      expect(drained).not.toBeNull();
      await new Promise((r) => setTimeout(r, 300));
      await session.channel.request({ cmd: 'observe', hz: 0 });
      session.channel.off('line', onLine);
      session.channel.off('message', onSnapshot);
      expect(kinds.filter((k) => k === 'snapshot-delta').length).toBeGreaterThan(5);
      expect(rebuilt).not.toBeNull();
      const fresh = await lab.sample();
      const comparable = (s: SnapshotMessage) => ({ pages: s.pages, locks: s.locks, actors: s.actors.map(({ blockedMs: _, ...a }) => a) });
      expect(comparable(rebuilt!)).toEqual(comparable(fresh));
      await session.channel.request({ cmd: 'observe', hz: 0, legacy: true });
      const legacy = await lab.sample();
      await session.channel.request({ cmd: 'observe', hz: 0 });
      expect(comparable(legacy)).toEqual(comparable(fresh));
    } finally {
      await session.shutdown();
    }
  });
});

describe('when things break', () => {
  it('reports a missing BTF clearly, and a dying agent as a closed channel; the transcript is kept', async () => {
    const session = await GuestSession.boot(loadProfile('default'), { progress: silentProgress });
    try {
      const lab = new LabDriver(session.channel);
      // Hide the kernel's BTF the way a kernel without CONFIG_DEBUG_INFO_BTF would lack it.
      const hide = await lab.busybox('mount', '-t', 'tmpfs', 'none', '/sys/kernel/btf');
      expect(hide.status).toBe(0);
      const err = await session.channel.request({ cmd: 'observe', hz: 10 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AgentError);
      expect((err as AgentError).message).toMatch(/no BTF.*CONFIG_DEBUG_INFO_BTF/);

      const pid = String(session.ready.pid);
      expect((await lab.busybox('cat', `/proc/${pid}/comm`)).stdout.trim()).toBe('daxlab-agent');
      // The agent kills itself through busybox: its channel closes, the guest powers off.
      const dying = session.channel.request({ cmd: 'exec', argv: ['/bin/busybox', 'kill', '-9', pid] });
      await expect(dying).rejects.toThrow(/closed/);
    } finally {
      await session.shutdown();
    }
    expect(fs.readFileSync(session.files.consoleLog, 'utf8')).toMatch(/agent exited with status 137/);
    const replay = replayTranscript(session.transcript);
    expect(replay.problems).toEqual([]);
    const kinds = replay.messages.map((m) => m.kind);
    expect(kinds[0]).toBe('run-start');
    expect(kinds).toContain('ready');
    expect(replay.messages.some((m) => m.kind === 'reply' && !m.ok && /no BTF/.test(m.error.message))).toBe(true);
    expect(await qemuProcessesOf(session.runId)).toEqual([]);
  });
});
