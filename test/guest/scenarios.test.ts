// Every built-in scenario in a real guest (one guest per filesystem, shared by the
// scenarios; nothing left running), each report checked against facts read independently
// in the same guest: /proc/<pid>/stack and stat, /proc/locks, smaps VmFlags, io_uring
// fdinfo, the rdma tool's MR list, /proc/vmstat read after its own folding interval,
// null_blk's in-flight counter, block counts and file contents read with stat / md5sum.
// Where the default kernel misbehaves, the test asserts that the finding is reported with
// its evidence, not that the kernel is bug-free.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabDriver } from '../../src/lab/driver.js';
import { runScenario, type ScenarioReport, type StepHook, type Verdict } from '../../src/lab/engine.js';
import { loadProfile } from '../../src/config/profiles.js';
import { replayTranscript } from '../../src/wire/transcript.js';
import { validateScenario } from '../../src/lab/scenario.js';
import { findScenario } from '../../src/lab/scenarios/index.js';
import { expectedFsdaxIdle } from '../../src/lab/era.js';
import { silentProgress } from '../../src/vm/progress.js';
import { GuestSession } from '../../src/vm/session.js';
import { daxlab, qemuProcessesOf, writeProfile } from './cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Guest = { session: GuestSession; lab: LabDriver };

async function bootGuest(profile: string): Promise<Guest> {
  const session = await GuestSession.boot(loadProfile(profile), { progress: silentProgress });
  return { session, lab: new LabDriver(session.channel) };
}

async function stopGuest(g: Guest | undefined): Promise<void> {
  if (!g) return;
  await g.session.shutdown();
  expect(await qemuProcessesOf(g.session.runId)).toEqual([]);
}

async function cat(g: Guest, file: string): Promise<string> {
  return (await g.lab.exec(['/bin/busybox', 'cat', file])).stdout;
}

async function taskState(g: Guest, pid: number): Promise<string> {
  const stat = await cat(g, `/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** /proc/vmstat pin counters, read after the kernel's own folding (no vm.stat_refresh). */
async function foldedPins(g: Guest): Promise<{ acquired: number; released: number }> {
  await sleep(2500); // vm.stat_interval is 1 s: two intervals and some
  const text = await cat(g, '/proc/vmstat');
  const get = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { acquired: get('nr_foll_pin_acquired'), released: get('nr_foll_pin_released') };
}

/** VmFlags of the mapping that starts at addr, from smaps. */
async function vmFlags(g: Guest, pid: number, addr: string): Promise<string[]> {
  const smaps = await cat(g, `/proc/${pid}/smaps`);
  const vma = smaps.slice(smaps.indexOf(`${addr.replace(/^0x/, '')}-`));
  return /VmFlags:([^\n]*)/.exec(vma)![1]!.trim().split(/\s+/);
}

function lastResult(hook: StepHook, actor: string, op: string): Record<string, unknown> {
  const a = [...hook.state.actions].reverse().find((x) => x.actor === actor && x.op === op);
  return a?.result ?? {};
}

const byId = (r: ScenarioReport, id: string): Verdict => {
  const v = r.expectations.find((e) => e.id === id);
  if (!v) throw new Error(`no expectation ${id} in ${r.scenario.id}: ${r.expectations.map((e) => e.id).join(', ')}`);
  return v;
};

function expectAllHeld(r: ScenarioReport, except: string[] = []) {
  const bad = r.expectations.filter((v) => v.status === 'violated' && !except.includes(v.id));
  expect(bad.map((v) => `${v.id}: ${v.description}: ${v.detail}`)).toEqual([]);
}

/** After a run: every actor's process is gone (read from /proc, not from the agent). */
async function expectActorsGone(g: Guest, r: ScenarioReport) {
  expect(r.cleanup).toMatchObject({ stuck: [], guestReusable: true });
  for (const [name, pid] of Object.entries(r.actors)) {
    const comm = await g.lab.exec(['/bin/busybox', 'cat', `/proc/${pid}/comm`]);
    expect(comm.status === 0 ? comm.stdout.trim() : 'gone', name).not.toBe(name);
  }
}

async function run(g: Guest, id: string, afterStep?: (h: StepHook) => Promise<void>, seed?: number): Promise<ScenarioReport> {
  return runScenario(g.session, findScenario(id).scenario, { ...(afterStep ? { afterStep } : {}), ...(seed !== undefined ? { seed } : {}) });
}

/** Bytes of a page holding pattern `tag` (src/vm/guest/actors.c: w[i] = (T << 32 | T) ^ i * golden). */
function patternPage(tag: number): Buffer {
  const buf = Buffer.alloc(4096);
  if (tag === 0) return buf;
  const t = BigInt(tag);
  for (let i = 0; i < 512; i++) buf.writeBigUInt64LE(((t << 32n) | t) ^ ((BigInt(i) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn), i * 8);
  return buf;
}

// ---------------------------------------------------------------------------------------
// Shared checks, run on xfs and ext4.

async function vmspliceVsPunch(g: Guest, layouts: RegExp) {
  let blocksBefore = NaN;
  let blocksAfter = NaN;
  const r = await run(g, 'vmsplice-vs-punch', async (h) => {
    const puncher = h.pids.puncher!;
    if (h.stepId === 'punch' || h.stepId === 'unmap') {
      expect(await cat(g, `/proc/${puncher}/stack`)).toMatch(layouts);
      expect(await taskState(g, puncher)).toBe('S');
    }
    if (h.stepId === 'unmap-first') blocksBefore = Number((await g.lab.exec(['/bin/busybox', 'stat', '-c', '%b', `${h.dirs.dax}/victim`])).stdout);
    if (h.stepId === 'punch-unmapped') {
      blocksAfter = Number((await g.lab.exec(['/bin/busybox', 'stat', '-c', '%b', `${h.dirs.dax}/victim`])).stdout);
      // The pipe still holds the page whose block the punch just gave back.
      expect(h.state.pages['again#1']?.aboveIdle).toBe(1);
    }
  });
  // Part one held: blocked in break-layouts, mmap lock free, munmap kept it waiting, the drain woke it.
  expectAllHeld(r, ['punch-waits-unmapped']);
  expect(byId(r, 'punch.1').detail).toMatch(layouts);
  expect(byId(r, 'unmap.1').status).toBe('held');
  // Part two: the finding. The punch went through with the reference still held...
  expect(r.exitCode).toBe(1);
  expect(r.findings.map((f) => f.expectation)).toEqual(['punch-waits-unmapped']);
  const early = byId(r, 'punch-waits-unmapped');
  expect(early.detail).toMatch(/returned .*\(ret 0\)/);
  expect((early.evidence.action as { ms: number }).ms).toBeLessThan(500);
  // ...freeing a block (independently: the file's block count went down)...
  expect(blocksAfter).toBeLessThan(blocksBefore);
  // ...because the busy-page scan did not look at the unmapped file: the kernel's own answer.
  const ctx = r.findings[0]!.evidence.context as { events: Array<{ name: string; comm?: string; fields: Record<string, string> }> };
  const scans = ctx.events.filter((e) => e.name === 'dax_layout_busy_page_range__return' && e.comm === 'puncher');
  expect(scans.at(-1)?.fields.page).toBe('0x0');
  await expectActorsGone(g, r);
  return r;
}

async function faultVsTruncate(g: Guest) {
  let fileChecked = false;
  const r = await run(g, 'fault-vs-truncate', async (h) => {
    if (h.stepId !== 'race') return;
    const shadow = h.report().measurements.shadow as { size: number; tags: number[] };
    const file = `${h.dirs.dax}/racer`;
    // Size and contents of the file, read by busybox, against the shadow computed here.
    expect(Number((await g.lab.exec(['/bin/busybox', 'stat', '-c', '%s', file])).stdout)).toBe(shadow.size * 4096);
    const want = crypto.createHash('md5').update(Buffer.concat(shadow.tags.map(patternPage))).digest('hex');
    expect((await g.lab.exec(['/bin/busybox', 'md5sum', file])).stdout.split(' ')[0]).toBe(want);
    fileChecked = true;
  });
  expect(fileChecked).toBe(true);
  expect(r.exitCode).toBe(0);
  expectAllHeld(r);
  expect(byId(r, 'data').status).toBe('held');
  expect(byId(r, 'no-hang').status).toBe('held');
  const race = r.measurements.race as { rounds: number; ops: number; sigbus: number; zero: number; mutations: Record<string, number> };
  expect(race.rounds).toBe(80);
  expect(Object.values(race.mutations).every((n) => n > 0)).toBe(true);
  // Hole reads really mapped the zero page, and reads past EOF really faulted.
  expect(race.zero).toBeGreaterThan(0);
  expect(race.sigbus).toBeGreaterThan(0);
  await expectActorsGone(g, r);
  return r;
}

async function dmaVsTruncate(g: Guest, layouts: RegExp) {
  const seen: Record<string, unknown> = {};
  const r = await run(g, 'dma-vs-truncate', async (h) => {
    const truncator = h.pids.truncator!;
    if (h.stepId === 'wake') {
      seen.wakeVerdict = h.verdicts.find((v) => v.id === 'truncate-woken')?.status;
      seen.stack = await cat(g, `/proc/${truncator}/stack`);
      seen.state = await taskState(g, truncator);
      // The device has no I/O in flight: the reference the truncator waits for is gone.
      seen.inflight = (await cat(g, '/sys/block/nullb0/inflight')).trim().split(/\s+/).map(Number);
    }
    if (h.stepId === 'nudge') seen.size = (await g.lab.exec(['/bin/busybox', 'stat', '-c', '%s', `${h.dirs.dax}/victim`])).stdout.trim();
  });
  // The 6.1 kernel leaves the truncator asleep after the last reference went.
  expect(seen.wakeVerdict).toBe('violated');
  expect(seen.stack).toMatch(layouts);
  expect(seen.state).toBe('S');
  expect(seen.inflight).toEqual([0, 0]);
  expect(r.exitCode).toBe(1);
  expect(r.verdict).toBe('finding');
  expect(r.findings.map((f) => f.expectation)).toEqual(['truncate-woken']);
  // The preconditions of the finding held: the I/O held the page, truncate waited in break-layouts
  // without the mmap lock and with i_rwsem, the kernel's busy scan found the page.
  expectAllHeld(r, ['truncate-woken']);
  const ev = r.findings[0]!.evidence as {
    page: { idle: number; idleSince: number; history: Array<{ t: number; ref: number }> };
    times: { reference: number; deadline: number; now: number };
    task: { state: string; stack: string[]; blockedMs: number };
    context: { locks: Array<{ lock: string; state: string; owner: { comm: string } | null }>; events: Array<{ name: string; fields: Record<string, string> }> };
  };
  const idle = r.kernel.fsdaxIdleRefcount!;
  expect(idle).toBe(expectedFsdaxIdle(r.kernel.release));
  expect(ev.page.idle).toBe(idle);
  // Refcount history: idle, referenced by the I/O, back to idle; and the truncator still asleep after the deadline.
  expect(ev.page.history.map((h) => h.ref)).toEqual([idle, idle + 1, idle]);
  expect(ev.page.history.at(-1)!.t).toBeLessThanOrEqual(ev.times.deadline - 1.9);
  expect(ev.times.now).toBeGreaterThanOrEqual(ev.times.deadline);
  expect(ev.task.state).toBe('S');
  expect(ev.task.stack[0]).toMatch(layouts);
  expect(ev.task.blockedMs).toBeGreaterThan(2000);
  expect(ev.context.locks.find((l) => l.lock === 'victim:invalidate_lock')?.state).toBe('free');
  expect(ev.context.locks.find((l) => l.lock === 'victim:i_rwsem')).toMatchObject({ state: 'write', owner: { comm: 'truncator' } });
  const busy = ev.context.events.find((e) => e.name === 'dax_layout_busy_page_range__return' && e.fields.page !== '0x0');
  expect(Number(busy?.fields.ref)).toBe(idle + 1);
  // The diagnosis: a signal, and truncate finishes at once: only the wake-up was missing.
  expect(byId(r, 'nudge.1').status).toBe('held');
  expect(byId(r, 'nudge.2').status).toBe('held');
  expect(seen.size).toBe('0');
  await expectActorsGone(g, r);
  return r;
}

async function mapDirectLease(g: Guest) {
  const seen: Record<string, unknown> = {};
  const r = await run(g, 'map-direct-lease', async (h) => {
    const { holder, breaker } = h.pids as Record<string, number>;
    if (h.stepId === 'truncate' || h.stepId === 'open-for-write') {
      if (h.stepId === 'truncate') {
        const locks = await cat(g, '/proc/locks');
        expect(locks).toMatch(new RegExp(`LEASE\\s+BREAKING\\s+\\S+\\s+${holder}\\b`));
        expect(locks).toMatch(new RegExp(`-> LEASE\\s+BREAKER\\s+\\S+\\s+${breaker}\\b`));
        expect(await cat(g, `/proc/${breaker}/stack`)).toContain('__break_lease');
      } else {
        const ino = (await g.lab.exec(['/bin/busybox', 'stat', '-c', '%i', `${h.dirs.dax}/leased`])).stdout.trim();
        seen.leaseAfterTimeout = (await cat(g, '/proc/locks')).split('\n').filter((l) => l.includes(`:${ino} `));
      }
    }
  });
  expect(r.exitCode).toBe(0);
  expectAllHeld(r);
  expect(seen.leaseAfterTimeout).toEqual([]);
  // The time-out, measured by the lab, against fs.lease-break-time read here.
  const lbt = Number((await cat(g, '/proc/sys/fs/lease-break-time')).trim());
  const timeout = byId(r, 'open-for-write.4').evidence as { times: { reference: number; end: number } };
  const took = timeout.times.end - timeout.times.reference;
  expect(took).toBeGreaterThan(lbt - 1);
  expect(took).toBeLessThan(lbt + 2);
  await expectActorsGone(g, r);
  return r;
}

// ---------------------------------------------------------------------------------------

describe('scenarios on xfs (default profile, one guest)', () => {
  let g: Guest | undefined;
  beforeAll(async () => {
    g = await bootGuest('default');
  });
  afterAll(async () => {
    await stopGuest(g);
  });

  it('map-sync: accepted on the DAX file (VM_SYNC set), refused on tmpfs and anonymous memory', async () => {
    const flags: Record<string, string[]> = {};
    const r = await run(g!, 'map-sync', async (h) => {
      if (['dax-sync', 'proposal-flag', 'tmp-legacy'].includes(h.stepId)) flags[h.stepId] = await vmFlags(g!, h.pids.mapper!, String(lastResult(h, 'mapper', 'mmap').addr));
    });
    expect(r.exitCode).toBe(0);
    expectAllHeld(r);
    expect(flags['dax-sync']).toContain('sf');
    expect(flags['proposal-flag']).toContain('sf');
    // Plain MAP_SHARED validates nothing: the call succeeded and gave a shared mapping (what smaps
    // says about VM_SYNC on it is the kernel's business; only DAX faults act on it).
    expect(flags['tmp-legacy']).toContain('sh');
    expect(byId(r, 'tmp-sync.1').detail).toMatch(/EOPNOTSUPP/);
    await expectActorsGone(g!, r);
  });

  it('map-direct-lease: a cooperative holder lets truncate through, a stubborn one is timed out after fs.lease-break-time', async () => {
    await mapDirectLease(g!);
  });

  it('vmsplice-vs-punch: waits while mapped, drained wakes it; after munmap the punch does not wait (finding)', async () => {
    await vmspliceVsPunch(g!, /xfs_break_dax_layouts/);
  });

  it('longterm-pin: fsdax refused, anonymous / tmpfs / device-dax pinned; checked against fdinfo, the MR list and /proc/vmstat', async () => {
    const mrs: Record<string, string> = {};
    const userBufs: Record<string, string> = {};
    const before = await foldedPins(g!);
    const r = await run(g!, 'longterm-pin', async (h) => {
      if (h.stepId === 'uring-anon' || h.stepId === 'uring-fsdax') {
        const actor = h.stepId === 'uring-anon' ? 'anon' : 'fsdax';
        const ringFd = lastResult(h, actor, 'io_uring_register').ringFd;
        userBufs[h.stepId] = /UserBufs:\s+(\d+)/.exec(await cat(g!, `/proc/${h.pids[actor]}/fdinfo/${ringFd}`))?.[1] ?? '?';
      }
      if (['mr-fsdax', 'mr-anon', 'dereg-anon', 'mr-devdax'].includes(h.stepId)) {
        mrs[h.stepId] = (await g!.lab.exec(['/usr/libexec/daxlab/rdma', 'resource', 'show', 'mr'])).stdout;
      }
    });
    const after = await foldedPins(g!);
    expect(r.exitCode).toBe(0);
    expectAllHeld(r);
    expect(r.available).toMatchObject({ rdma: true, devdax: true });
    expect(userBufs).toEqual({ 'uring-fsdax': '0', 'uring-anon': '1' });
    const pid = (a: string) => new RegExp(`pid ${r.actors[a]}\\b`);
    expect(mrs['mr-fsdax']).not.toMatch(pid('fsdax'));
    expect(mrs['mr-anon']).toMatch(pid('anon'));
    expect(mrs['dereg-anon']).not.toMatch(pid('anon'));
    expect(mrs['mr-devdax']).toMatch(pid('devdax'));
    // /proc/vmstat over the whole run: every pin was given back, and at least the ones the lab counted were taken.
    const counted = r.expectations.filter((v) => v.status === 'held' && v.check === 'vmstat' && /acquired/.test(v.description)).length;
    expect(counted).toBe(4);
    expect(after.acquired - before.acquired).toBeGreaterThanOrEqual(counted);
    expect(after.acquired - before.acquired).toBe(after.released - before.released);
    await expectActorsGone(g!, r);
  });

  it('pin-accounting: the table of deltas; its pin counts add up to /proc/vmstat over the run', async () => {
    const before = await foldedPins(g!);
    const r = await run(g!, 'pin-accounting');
    const after = await foldedPins(g!);
    expect(r.exitCode).toBe(0);
    expectAllHeld(r);
    const t = r.tables.pins!;
    expect(t.rows).toEqual(['vmsplice', 'odirect', 'io_uring', 'rdma']);
    expect(t.columns).toEqual(['fsdax', 'anon', 'pagecache', 'devdax']);
    const take = (row: string, col: string) => t.cells[row]![col]!.take!;
    for (const col of t.columns) {
      expect(take('vmsplice', col)).toMatchObject({ result: 'ok', aboveIdleDelta: 1, pinsDelta: 0, pinAcquiredDelta: 0 });
      expect([1, 1024]).toContain(take('odirect', col).aboveIdleDelta);
    }
    expect(take('io_uring', 'fsdax').result).toBe('EOPNOTSUPP');
    expect(take('io_uring', 'anon')).toMatchObject({ result: 'ok', aboveIdleDelta: 1024, pinsDelta: 1, pinAcquiredDelta: 1 });
    expect(take('rdma', 'fsdax').result).toBe('EOPNOTSUPP');
    expect(take('rdma', 'devdax')).toMatchObject({ result: 'ok', aboveIdleDelta: 1, pinsDelta: 1, pinAcquiredDelta: 1, large: true });
    // Every release put the page back where the take found it.
    for (const row of t.rows) {
      for (const col of t.columns) {
        const cell = t.cells[row]![col]!;
        if (cell.release) expect(cell.release.aboveIdleDelta, `${row} x ${col}`).toBe(-Number(cell.take!.aboveIdleDelta));
      }
    }
    const sum = (k: 'pinAcquiredDelta' | 'pinReleasedDelta') =>
      t.rows.flatMap((row) => t.columns.flatMap((col) => [t.cells[row]![col]!.take?.[k], t.cells[row]![col]!.release?.[k]])).reduce<number>((n, v) => n + (Number(v) || 0), 0);
    expect(after.acquired - before.acquired).toBe(sum('pinAcquiredDelta'));
    expect(after.released - before.released).toBe(sum('pinReleasedDelta'));
    await expectActorsGone(g!, r);
  });

  it('fault-vs-truncate: seeded race, no data mismatch against the shadow (and against md5sum of the file), no hang', async () => {
    const r = await faultVsTruncate(g!);
    expect(r.seed).toBe(1);
  });

  it('dma-vs-truncate: the truncater is never woken after the O_DIRECT reference goes (finding, with its evidence)', async () => {
    await dmaVsTruncate(g!, /xfs_break_dax_layouts/);
  });
});

describe('scenarios on ext4 (one guest)', () => {
  let g: Guest | undefined;
  beforeAll(async () => {
    g = await bootGuest('ext4');
  });
  afterAll(async () => {
    await stopGuest(g);
  });

  it('vmsplice-vs-punch on ext4', async () => {
    await vmspliceVsPunch(g!, /ext4_break_layouts/);
  });

  it('map-direct-lease on ext4', async () => {
    await mapDirectLease(g!);
  });

  it('fault-vs-truncate on ext4', async () => {
    await faultVsTruncate(g!);
  });

  it('dma-vs-truncate on ext4: the same missing wake-up in ext4_break_layouts', async () => {
    await dmaVsTruncate(g!, /ext4_break_layouts/);
  });

  it('hang safety: the hang detector stops the run with every stack; a task left asleep is killed; the guest stays usable', async () => {
    const hung = validateScenario(
      {
        id: 'left-asleep',
        title: 'a punch that nobody lets through',
        summary: 'A pipe keeps a page; the punch waits for it; nobody drains the pipe.',
        actors: [{ name: 'holder' }, { name: 'puncher' }],
        hangDetector: { blockedLongerThan: '2s' },
        steps: [
          { actor: 'holder', do: { op: 'open', path: 'f', create: true, size: '64K' }, say: 'open' },
          { actor: 'holder', do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED'] }, say: 'map' },
          { actor: 'holder', do: { op: 'touch', pages: [0], write: true }, watch: { pages: [0], label: 'f' }, say: 'fault' },
          { actor: 'holder', do: { op: 'vmsplice', pages: [0] }, say: 'the pipe takes page 0' },
          { actor: 'puncher', do: { op: 'open', path: 'f' }, say: 'open' },
          { id: 'punch', actor: 'puncher', do: { op: 'fallocate', mode: 'punch', offset: 0, length: '4K' }, timeout: '20s', say: 'a synchronous punch: it never returns' },
          { actor: 'holder', do: { op: 'drain' }, say: 'never reached', expect: [{ check: 'returns', ok: true }] },
        ],
      },
      'test',
    );
    const r = await runScenario(g!.session, hung);
    expect(r.exitCode).toBe(1);
    const hang = byId(r, 'no-hang');
    expect(hang.status).toBe('violated');
    expect(hang.detail).toMatch(/puncher has been asleep inside its fallocate for \d+ ms \(S in ext4_break_layouts/);
    expect(Object.keys(hang.evidence.stacks as object).sort()).toEqual(['holder', 'puncher']);
    expect(r.steps.at(-1)).toMatchObject({ status: 'not-reached' });
    expect(r.expectations.at(-1)).toMatchObject({ status: 'not-applicable' });
    // The punch was killed in its sleep, and nothing of the run is left.
    expect(r.cleanup.killed).toEqual(['puncher']);
    await expectActorsGone(g!, r);
    expect((await g!.lab.exec(['/bin/busybox', 'ls', r.dirs.dax])).status).not.toBe(0);

    // A precondition that never comes about: could not test (125), the rest not applicable.
    const never = validateScenario(
      {
        id: 'never',
        title: 'waits for a reference nobody takes',
        summary: 's',
        actors: [{ name: 'a' }],
        steps: [
          { actor: 'a', do: { op: 'open', path: 'g', create: true, size: '64K' }, say: 'open' },
          { actor: 'a', do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED'] }, say: 'map' },
          { actor: 'a', do: { op: 'touch', pages: [0], write: true }, watch: { pages: [0], label: 'g' }, say: 'fault' },
          { id: 'wait', say: 'wait', waitFor: { until: { check: 'page', page: 'g#0', aboveIdle: { min: 1 } }, timeout: '1s' }, expect: [{ check: 'page', page: 'g#0', pins: 1 }] },
        ],
      },
      'test',
    );
    const n = await runScenario(g!.session, never);
    expect(n.exitCode).toBe(125);
    expect(n.cannotTest).toMatch(/did not come about/);
    expect(byId(n, 'wait.1').status).toBe('not-applicable');
    await expectActorsGone(g!, n);
  });

  it('longterm-pin on a profile without devdax: the device-dax steps are not applicable, the rest holds', async () => {
    const r = await run(g!, 'longterm-pin');
    expect(r.available.devdax).toBe(false);
    expect(r.exitCode).toBe(0);
    expect(byId(r, 'mr-devdax.1').status).toBe('not-applicable');
    expect(byId(r, 'mr-fsdax.1').status).toBe('held');
  });
});

describe('daxlab run (the command)', () => {
  it('dma-vs-truncate --json --record: exit 1 with the finding; the record replays; nothing left running', async () => {
    const record = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-rec-')), 'run.jsonl');
    const r = await daxlab(['run', 'dma-vs-truncate', '--json', '--record', record]);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const out = JSON.parse(String(r.stdout)) as ScenarioReport & { runDir: string; record: string };
    expect(Object.keys(out)).toEqual(expect.arrayContaining(['scenario', 'kernel', 'profile', 'expectations', 'findings', 'transcript']));
    expect(out.scenario.id).toBe('dma-vs-truncate');
    expect(out.findings[0]!.expectation).toBe('truncate-woken');
    for (const v of out.expectations) expect(['held', 'violated', 'not-applicable']).toContain(v.status);
    // Steps and verdicts were printed as they ran.
    expect(String(r.stderr)).toMatch(/\[5\] A second task truncates/);
    expect(String(r.stderr)).toMatch(/VIOLATED the truncator returns within 2 s/);
    const replay = replayTranscript(record);
    expect(replay.problems).toEqual([]);
    expect(replay.messages.some((m) => m.kind === 'action' && m.op === 'truncate' && m.phase === 'end')).toBe(true);
    expect(await qemuProcessesOf(path.basename(out.runDir))).toEqual([]);
  });

  it('unknown ids, malformed scenario files and profiles whose fs a scenario cannot use: exit 125 before any boot', async () => {
    const unknown = await daxlab(['run', 'no-such-scenario']);
    expect(unknown.exitCode).toBe(125);
    expect(String(unknown.stderr)).toMatch(/no scenario "no-such-scenario"; known: dma-vs-truncate/);
    const file = writeProfile({ id: 'x', title: 't', summary: 's', actors: [{ name: 'a' }], steps: [{ say: 'go', actor: 'ghost', do: { op: 'munmap' } }] });
    const bad = await daxlab(['run', '--scenario-file', file]);
    expect(bad.exitCode).toBe(125);
    expect(String(bad.stderr)).toMatch(/steps\[0\]\.actor: no actor "ghost" \(declared: a\)/);
    const exported = await daxlab(['scenario', 'export', 'map-sync']);
    expect(exported.exitCode).toBe(0);
    expect(JSON.parse(String(exported.stdout)).id).toBe('map-sync');
  });
});
