// The built-in scenarios checked in a real guest, on whatever kernel it runs. Each report is
// checked against facts read independently in the same guest (/proc/<pid>/stack and stat,
// /proc/locks, smaps VmFlags, io_uring fdinfo, the rdma tool's MR list, /proc/vmstat read
// after its own folding interval, null_blk's in-flight counter, block counts and file
// contents read with stat / md5sum, the kprobes tracefs really holds).
//
// The assertions follow the kernel: where a verdict depends on what that kernel does (a
// missing wake-up on 6.1, a punch that does not wait before v6.15, io_uring's answer on
// device-dax), the test reads the lab's verdict, then checks it against what the guest
// shows by other means. A kernel that is fixed passes; a lab that reports a finding the
// guest does not show (or misses one it does) fails.
import type { PutPath } from '../../src/lab/putpath.js';
import crypto from 'node:crypto';
import { expect } from 'vitest';
import { loadProfile } from '../../src/config/profiles.js';
import { LabDriver } from '../../src/lab/driver.js';
import { runScenario, type ScenarioReport, type StepHook, type Verdict } from '../../src/lab/engine.js';
import { findScenario } from '../../src/lab/scenarios/index.js';
import { silentProgress } from '../../src/vm/progress.js';
import { GuestSession } from '../../src/vm/session.js';
import { qemuProcessesOf } from './cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Guest = { session: GuestSession; lab: LabDriver };

export async function bootGuest(profile: string): Promise<Guest> {
  const session = await GuestSession.boot(loadProfile(profile), { progress: silentProgress });
  return { session, lab: new LabDriver(session.channel) };
}

export async function stopGuest(g: Guest | undefined): Promise<void> {
  if (!g) return;
  await g.session.shutdown();
  expect(await qemuProcessesOf(g.session.runId)).toEqual([]);
}

export async function cat(g: Guest, file: string): Promise<string> {
  return (await g.lab.exec(['/bin/busybox', 'cat', file])).stdout;
}

export async function taskState(g: Guest, pid: number): Promise<string> {
  const stat = await cat(g, `/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

async function statField(g: Guest, format: string, file: string): Promise<string> {
  return (await g.lab.exec(['/bin/busybox', 'stat', '-c', format, file])).stdout.trim();
}

/** /proc/vmstat pin counters, read after the kernel's own folding (no vm.stat_refresh). */
export async function foldedPins(g: Guest): Promise<{ acquired: number; released: number }> {
  await sleep(2500); // vm.stat_interval is 1 s: two intervals and some
  const text = await cat(g, '/proc/vmstat');
  const get = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { acquired: get('nr_foll_pin_acquired'), released: get('nr_foll_pin_released') };
}

/** Whether tracefs really holds the lab's kprobe on this function (read from tracefs, not the agent). */
async function kprobeDefined(g: Guest, fn: string): Promise<boolean> {
  const defs = await cat(g, '/sys/kernel/tracing/kprobe_events');
  return defs.split('\n').some((l) => new RegExp(`\\s${fn}(\\+0)?\\s`).test(`${l} `));
}

/** VmFlags of the mapping that starts at addr, from smaps. */
export async function vmFlags(g: Guest, pid: number, addr: string): Promise<string[]> {
  const smaps = await cat(g, `/proc/${pid}/smaps`);
  const vma = smaps.slice(smaps.indexOf(`${addr.replace(/^0x/, '')}-`));
  return /VmFlags:([^\n]*)/.exec(vma)![1]!.trim().split(/\s+/);
}

export function lastResult(hook: StepHook, actor: string, op: string): Record<string, unknown> {
  const a = [...hook.state.actions].reverse().find((x) => x.actor === actor && x.op === op);
  return a?.result ?? {};
}

export const byId = (r: ScenarioReport, id: string): Verdict => {
  const v = r.expectations.find((e) => e.id === id);
  if (!v) throw new Error(`no expectation ${id} in ${r.scenario.id}: ${r.expectations.map((e) => e.id).join(', ')}`);
  return v;
};

export function expectAllHeld(r: ScenarioReport, except: string[] = []) {
  const bad = r.expectations.filter((v) => v.status === 'violated' && !except.includes(v.id));
  expect(bad.map((v) => `${v.id}: ${v.description}: ${v.detail}`)).toEqual([]);
}

/** Exit code and findings agree with the verdicts: 1 exactly when something was violated. */
function expectExitMatchesFindings(r: ScenarioReport, findings: string[]) {
  expect(r.findings.map((f) => f.expectation).sort()).toEqual([...findings].sort());
  expect(r.exitCode).toBe(findings.length ? 1 : 0);
}

/** After a run: every actor's process is gone (read from /proc, not from the agent). */
export async function expectActorsGone(g: Guest, r: ScenarioReport) {
  expect(r.cleanup).toMatchObject({ stuck: [], guestReusable: true });
  for (const [name, pid] of Object.entries(r.actors)) {
    const comm = await g.lab.exec(['/bin/busybox', 'cat', `/proc/${pid}/comm`]);
    expect(comm.status === 0 ? comm.stdout.trim() : 'gone', name).not.toBe(name);
  }
}

export async function run(g: Guest, id: string, afterStep?: (h: StepHook) => Promise<void>, seed?: number): Promise<ScenarioReport> {
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

type PageEvidence = { idle: number; history: Array<{ t: number; ref: number; aboveIdle: number; pins: number }> };

/** How much a "rose" page check saw the references above idle rise. */
function rise(v: Verdict): number {
  const ev = v.evidence as { aboveIdleBefore?: { aboveIdle: number }; page?: { now?: { aboveIdle: number } } };
  return Number(ev.page?.now?.aboveIdle) - Number(ev.aboveIdleBefore?.aboveIdle);
}

/** The distinct successive values of references-above-idle in a page's history. */
function aboveIdleSteps(p: PageEvidence): number[] {
  return p.history.map((h) => h.aboveIdle).filter((v, i, all) => i === 0 || v !== all[i - 1]);
}

/**
 * The page went from idle up to idle + held and back, once. A pin may be seen half
 * taken on the way up: gup-fast takes one reference (try_get_folio) and only then adds
 * the rest of the bias (try_grab_folio_fast in mm/gup.c, 6.12 and 7.2), so a sample can
 * land between the two writes and read +1. The release is one write of the whole share.
 * While held, one more reference may be seen for a moment: on 7.2 the mapping owns a
 * reference, and the truncate's unmap drops the mapcount at once but the reference only
 * after its TLB flush (mmu_gather), so a sample in between reads held + 1 (CI, session 5:
 * 0 1024 1025 1024 0 on sid).
 */
function expectRiseAndFall(steps: number[], held: number) {
  const peak = steps.indexOf(held);
  const shown = `above-idle steps ${steps.join(' ')}`;
  expect(steps[0], shown).toBe(0);
  expect(peak, shown).toBeGreaterThan(0);
  expect(steps.at(-1), shown).toBe(0);
  for (const v of steps.slice(peak + 1, -1)) expect([held, held + 1], shown).toContain(v);
  const halfTaken = held === 1024 ? [1] : [];
  for (const v of steps.slice(1, peak)) expect(halfTaken, `above-idle steps ${steps.join(' ')}`).toContain(v);
}

/** The stack frame where a truncate or punch waits for a busy DAX page, on any era (see NOTES). */
export const BREAK_LAYOUTS = /(break_(dax_)?layouts?|wait_page_idle)\b/;

// ---------------------------------------------------------------------------------------

export async function vmspliceVsPunch(g: Guest) {
  let blocksBefore = NaN;
  let blocksAfterPunch = NaN;
  let blocksAfterDrain = NaN;
  const part2: { state?: string; stack?: string } = {};
  const victim = (h: StepHook) => `${h.dirs.dax}/victim`;
  const r = await run(g, 'vmsplice-vs-punch', async (h) => {
    const puncher = h.pids.puncher!;
    if (h.stepId === 'punch' || h.stepId === 'unmap') {
      expect(await cat(g, `/proc/${puncher}/stack`)).toMatch(BREAK_LAYOUTS);
      expect(await taskState(g, puncher)).toBe('S');
    }
    if (h.stepId === 'unmap-first') blocksBefore = Number(await statField(g, '%b', victim(h)));
    if (h.stepId === 'punch-unmapped') {
      blocksAfterPunch = Number(await statField(g, '%b', victim(h)));
      part2.stack = await cat(g, `/proc/${puncher}/stack`);
      part2.state = await taskState(g, puncher);
      // The pipe still holds the page, as the lab sees it.
      expect(h.state.pages['again#1']?.aboveIdle).toBe(1);
    }
    if (h.stepId === 'drain-again') blocksAfterDrain = Number(await statField(g, '%b', victim(h)));
  });
  // Part one holds on every era: asleep in break-layouts, mmap lock free, munmap kept it waiting, the drain woke it.
  expectAllHeld(r, ['punch-waits-unmapped']);
  expect(byId(r, 'punch.1').detail).toMatch(BREAK_LAYOUTS);
  expect(byId(r, 'unmap.1').status).toBe('held');
  // Part two: what the lab says the kernel did, against the block count and /proc.
  const early = byId(r, 'punch-waits-unmapped');
  const scansAttached = await kprobeDefined(g, 'dax_layout_busy_page_range');
  if (early.status === 'violated') {
    // The punch went through with the reference still held, freeing a block (stat says so)...
    expectExitMatchesFindings(r, ['punch-waits-unmapped']);
    expect(early.detail).toMatch(/returned .*\(ret 0\)/);
    expect((early.evidence.action as { ms: number }).ms).toBeLessThan(500);
    expect(blocksAfterPunch).toBeLessThan(blocksBefore);
    expect(part2.stack).not.toMatch(BREAK_LAYOUTS);
    // ...because the busy-page scan did not look at the unmapped file: the kernel's own answer.
    if (scansAttached) {
      const ctx = r.findings[0]!.evidence.context as { events: Array<{ name: string; comm?: string; fields: Record<string, string> }> };
      const scans = ctx.events.filter((e) => e.name === 'dax_layout_busy_page_range__return' && e.comm === 'puncher');
      expect(scans.at(-1)?.fields.page).toBe('0x0');
    }
  } else {
    // The punch waited for the pipe's reference: no block freed while the pipe held it,
    // the puncher asleep in break-layouts; the drain let it through and the block went.
    expect(early.status).toBe('held');
    expectExitMatchesFindings(r, []);
    expect(blocksAfterPunch).toBe(blocksBefore);
    expect(part2.state).toBe('S');
    expect(part2.stack).toMatch(BREAK_LAYOUTS);
    expect(blocksAfterDrain).toBeLessThan(blocksBefore);
  }
  await expectActorsGone(g, r);
  return r;
}

export async function faultVsTruncate(g: Guest) {
  let fileChecked = false;
  const r = await run(g, 'fault-vs-truncate', async (h) => {
    if (h.stepId !== 'race') return;
    const shadow = h.report().measurements.shadow as { size: number; tags: number[] };
    const file = `${h.dirs.dax}/racer`;
    // Size and contents of the file, read by busybox, against the shadow computed here.
    expect(Number(await statField(g, '%s', file))).toBe(shadow.size * 4096);
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

export async function dmaVsTruncate(g: Guest) {
  const seen: Record<string, unknown> = {};
  const before = await foldedPins(g);
  const r = await run(g, 'dma-vs-truncate', async (h) => {
    const truncator = h.pids.truncator!;
    const victim = `${h.dirs.dax}/victim`;
    if (h.stepId === 'truncate') seen.sizeWhileWaiting = await statField(g, '%s', victim);
    if (h.stepId === 'wake') {
      seen.stack = await cat(g, `/proc/${truncator}/stack`);
      seen.state = await taskState(g, truncator);
      seen.size = await statField(g, '%s', victim);
      // The device has no I/O in flight: the reference the truncator waited for is gone.
      seen.inflight = (await cat(g, '/sys/block/nullb0/inflight')).trim().split(/\s+/).map(Number);
    }
    if (h.stepId === 'nudge') seen.sizeAfterNudge = await statField(g, '%s', victim);
  });
  const after = await foldedPins(g);
  // The preconditions held on every era: the I/O held the page, truncate waited in
  // break-layouts without the mmap lock and with i_rwsem, and had not truncated yet.
  expectAllHeld(r, ['truncate-woken']);
  expect(seen.sizeWhileWaiting).toBe(String(64 * 1024));
  expect(byId(r, 'truncate.1').detail).toMatch(BREAK_LAYOUTS);
  expect(seen.inflight).toEqual([0, 0]);
  // A reference (FOLL_GET, +1) or a pin (FOLL_PIN, +1024): /proc/vmstat counts the pin, or none.
  const held = rise(byId(r, 'dio.1'));
  expect([1, 1024]).toContain(held);
  expect(after.acquired - before.acquired).toBe(held === 1024 ? 1 : 0);
  expect(after.released - before.released).toBe(after.acquired - before.acquired);
  // The idle baseline the page came back to, and the kernel's own busy scan saw idle + the I/O's share.
  const idle = r.kernel.fsdaxIdleRefcount!;
  const woken = byId(r, 'truncate-woken');
  const page = (woken.evidence as { page: PageEvidence }).page;
  expect(page.idle).toBe(idle);
  expectRiseAndFall(aboveIdleSteps(page), held);
  const scan = byId(r, 'truncate.4');
  if (await kprobeDefined(g, 'dax_layout_busy_page_range')) {
    expect(scan.status).toBe('held');
    const busy = (scan.evidence.events as Array<{ fields: Record<string, string> }>).find((e) => e.fields.page !== '0x0');
    expect(Number(busy?.fields.ref)).toBe(idle + held);
  } else {
    expect(scan.status).toBe('not-applicable');
  }
  // The put path (hardware watchpoint on _refcount): the I/O's reference went in one
  // write of exactly what it took, the observer's next sample read what the watchpoint
  // read, and the wake-up ran exactly when the truncater was woken.
  const pp = (r.measurements.putPath as PutPath[] | undefined)?.find((p) => p.page === 'victim#0');
  if (pp?.armed) {
    expect(pp.release, pp.text).not.toBeNull();
    expect(pp.release!.delta).toBe(-held);
    expect(pp.crossCheck.agrees, pp.crossCheck.text).toBe(true);
    if (pp.release!.wakeUp.probed) expect(pp.release!.wakeUp.seen, pp.text).toBe(woken.status === 'held');
  }
  if (woken.status === 'violated') {
    // The lab says the truncater was never woken: /proc agrees it still slept in
    // break-layouts with the I/O done and the file not yet truncated...
    expectExitMatchesFindings(r, ['truncate-woken']);
    expect(seen.state).toBe('S');
    expect(seen.stack).toMatch(BREAK_LAYOUTS);
    expect(seen.size).toBe(String(64 * 1024));
    const ev = woken.evidence as {
      times: { reference: number; deadline: number; now: number };
      task: { state: string; stack: string[]; blockedMs: number };
      page: PageEvidence;
    };
    expect(ev.page.history.at(-1)!.t).toBeLessThanOrEqual(ev.times.deadline - 1.9);
    expect(ev.times.now).toBeGreaterThanOrEqual(ev.times.deadline);
    expect(ev.task.state).toBe('S');
    expect(ev.task.stack.some((f) => BREAK_LAYOUTS.test(f))).toBe(true);
    expect(ev.task.blockedMs).toBeGreaterThan(2000);
    const ctx = r.findings[0]!.evidence.context as { locks: Array<{ lock: string; state: string; owner: { comm: string } | null }> };
    expect(ctx.locks.find((l) => l.lock === 'victim:invalidate_lock')?.state).toBe('free');
    expect(ctx.locks.find((l) => l.lock === 'victim:i_rwsem')).toMatchObject({ state: 'write', owner: { comm: 'truncator' } });
    // ...and the diagnosis: a signal, and truncate finishes at once: only the wake-up was missing.
    expect(byId(r, 'nudge.1').status).toBe('held');
    expect(byId(r, 'nudge.2').status).toBe('held');
    expect(seen.sizeAfterNudge).toBe('0');
  } else {
    // The lab says the truncater was woken: by the time the step ended it had truncated the
    // file and left break-layouts, and the diagnosis step did not run.
    expect(woken.status).toBe('held');
    expectExitMatchesFindings(r, []);
    expect(seen.size).toBe('0');
    expect(seen.stack).not.toMatch(BREAK_LAYOUTS);
    expect(r.steps.find((s) => s.id === 'nudge')?.status).toBe('skipped');
  }
  await expectActorsGone(g, r);
  return r;
}

export async function mapDirectLease(g: Guest) {
  const seen: Record<string, unknown> = {};
  const r = await run(g, 'map-direct-lease', async (h) => {
    const { holder, breaker } = h.pids as Record<string, number>;
    if (h.stepId === 'truncate') {
      const locks = await cat(g, '/proc/locks');
      expect(locks).toMatch(new RegExp(`LEASE\\s+BREAKING\\s+\\S+\\s+${holder}\\b`));
      expect(locks).toMatch(new RegExp(`-> LEASE\\s+BREAKER\\s+\\S+\\s+${breaker}\\b`));
      expect(await cat(g, `/proc/${breaker}/stack`)).toContain('__break_lease');
    }
    if (h.stepId === 'open-for-write') {
      const ino = await statField(g, '%i', `${h.dirs.dax}/leased`);
      seen.leaseAfterTimeout = (await cat(g, '/proc/locks')).split('\n').filter((l) => l.includes(`:${ino} `));
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

export async function mapSync(g: Guest) {
  const flags: Record<string, string[]> = {};
  const r = await run(g, 'map-sync', async (h) => {
    if (['dax-sync', 'proposal-flag', 'tmp-legacy'].includes(h.stepId)) flags[h.stepId] = await vmFlags(g, h.pids.mapper!, String(lastResult(h, 'mapper', 'mmap').addr));
  });
  expect(r.exitCode).toBe(0);
  expectAllHeld(r);
  expect(flags['dax-sync']).toContain('sf');
  expect(flags['proposal-flag']).toContain('sf');
  // Plain MAP_SHARED validates nothing: the call succeeded and gave a shared mapping (what smaps
  // says about VM_SYNC on it is the kernel's business; only DAX faults act on it).
  expect(flags['tmp-legacy']).toContain('sh');
  expect(byId(r, 'tmp-sync.1').detail).toMatch(/EOPNOTSUPP/);
  await expectActorsGone(g, r);
  return r;
}

/** io_uring and RDMA long-term pins, against fdinfo, the rdma tool's MR list and /proc/vmstat. */
export async function longtermPin(g: Guest) {
  const mrs: Record<string, string> = {};
  const userBufs: Record<string, string> = {};
  const before = await foldedPins(g);
  const r = await run(g, 'longterm-pin', async (h) => {
    const ring = { 'uring-anon': 'anon', 'uring-fsdax': 'fsdax', 'uring-devdax': 'devdax', 'unring-devdax': 'devdax' }[h.stepId];
    if (ring && h.status === 'ran') {
      const ringFd = lastResult(h, ring, 'io_uring_register').ringFd;
      userBufs[h.stepId] = /UserBufs:\s+(\d+)/.exec(await cat(g, `/proc/${h.pids[ring]}/fdinfo/${ringFd}`))?.[1] ?? 'no ring';
    }
    if (['mr-fsdax', 'mr-anon', 'dereg-anon', 'mr-devdax'].includes(h.stepId)) {
      mrs[h.stepId] = (await g.lab.exec(['/usr/libexec/daxlab/rdma', 'resource', 'show', 'mr'])).stdout;
    }
  });
  const after = await foldedPins(g);
  expect(r.exitCode).toBe(0);
  expectAllHeld(r);
  expect(r.available).toMatchObject({ rdma: true, devdax: true });
  expect(userBufs['uring-fsdax']).toBe('0');
  expect(userBufs['uring-anon']).toBe('1');
  // io_uring's answer on device-dax is the kernel's own (refused on 6.1, pinned later): the
  // ring's fdinfo must agree with what the lab reported, and an accepted buffer is given back.
  const devdaxAccepted = byId(r, 'uring-devdax-pinned').status === 'held';
  if (devdaxAccepted) {
    expect(byId(r, 'uring-devdax-refused-clean').status).toBe('not-applicable');
    expect(userBufs['uring-devdax']).toBe('1');
    expect(byId(r, 'unring-devdax.1').status).toBe('held');
  } else {
    expect(byId(r, 'uring-devdax-pinned').status).toBe('not-applicable');
    expect(byId(r, 'uring-devdax-refused-clean').status).toBe('held');
    expect(userBufs['uring-devdax'] ?? '0').toBe('0');
    expect(r.steps.find((s) => s.id === 'unring-devdax')?.status).toBe('skipped');
  }
  const pid = (a: string) => new RegExp(`pid ${r.actors[a]}\\b`);
  expect(mrs['mr-fsdax']).not.toMatch(pid('fsdax'));
  expect(mrs['mr-anon']).toMatch(pid('anon'));
  expect(mrs['dereg-anon']).not.toMatch(pid('anon'));
  expect(mrs['mr-devdax']).toMatch(pid('devdax'));
  // /proc/vmstat over the whole run: every pin was given back, and at least the ones the lab counted were taken.
  const counted = r.expectations.filter((v) => v.status === 'held' && v.check === 'vmstat' && /acquired/.test(v.description)).length;
  expect(counted).toBe(devdaxAccepted ? 5 : 4);
  expect(after.acquired - before.acquired).toBeGreaterThanOrEqual(counted);
  expect(after.acquired - before.acquired).toBe(after.released - before.released);
  await expectActorsGone(g, r);
  return r;
}

type Cell = { result?: string; aboveIdleDelta?: number; pinsDelta?: number; pinAcquiredDelta?: number; pinReleasedDelta?: number; large?: boolean };

export async function pinAccounting(g: Guest) {
  const before = await foldedPins(g);
  const r = await run(g, 'pin-accounting');
  const after = await foldedPins(g);
  expect(r.exitCode).toBe(0);
  expectAllHeld(r);
  const t = r.tables.pins!;
  expect(t.rows).toEqual(['vmsplice', 'odirect', 'io_uring', 'rdma']);
  expect(t.columns).toEqual(['fsdax', 'anon', 'pagecache', 'devdax']);
  const take = (row: string, col: string) => t.cells[row]![col]!.take as Cell;
  for (const col of t.columns) {
    expect(take('vmsplice', col)).toMatchObject({ result: 'ok', aboveIdleDelta: 1, pinsDelta: 0, pinAcquiredDelta: 0 });
    expect([1, 1024]).toContain(take('odirect', col).aboveIdleDelta);
  }
  expect(take('io_uring', 'fsdax').result).toBe('EOPNOTSUPP');
  expect(take('io_uring', 'anon')).toMatchObject({ result: 'ok', aboveIdleDelta: 1024, pinsDelta: 1 });
  expect(take('rdma', 'fsdax').result).toBe('EOPNOTSUPP');
  expect(take('rdma', 'devdax')).toMatchObject({ result: 'ok', aboveIdleDelta: 1, pinsDelta: 1, large: true });
  for (const row of t.rows) {
    for (const col of t.columns) {
      const cell = t.cells[row]![col]!;
      const took = cell.take as Cell | undefined;
      // The pins the lab read in struct page are the ones the kernel holds by /proc/vmstat
      // (an accepted reference: "ok", or an O_DIRECT still "in flight" when it was recorded).
      // Pins held are acquired less released: 7.2's GUP-fast takes and gives back one on its way to the slow path.
      if (took && !/^E[A-Z0-9]+$/.test(String(took.result))) expect(took.pinsDelta, `${row} x ${col}`).toBe(Number(took.pinAcquiredDelta) - Number(took.pinReleasedDelta));
      // Every release put the page back where the take found it.
      if (cell.release) expect((cell.release as Cell).aboveIdleDelta, `${row} x ${col}`).toBe(-Number(took!.aboveIdleDelta));
    }
  }
  const sum = (k: 'pinAcquiredDelta' | 'pinReleasedDelta') =>
    t.rows.flatMap((row) => t.columns.flatMap((col) => [(t.cells[row]![col]!.take as Cell)?.[k], (t.cells[row]![col]!.release as Cell)?.[k]])).reduce<number>((n, v) => n + (Number(v) || 0), 0);
  expect(after.acquired - before.acquired).toBe(sum('pinAcquiredDelta'));
  expect(after.released - before.released).toBe(sum('pinReleasedDelta'));
  await expectActorsGone(g, r);
  return r;
}
