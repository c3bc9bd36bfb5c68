// Actors in a real guest (one guest for the whole file): each fact an actor reports is
// checked against an independent source the agent does not produce (/proc/<pid>/stack,
// /proc/<pid>/stat, /proc/locks, smaps, io_uring fdinfo, stat of the file).
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabDriver, withTimeout } from '../../src/lab/driver.js';
import { loadProfile } from '../../src/config/profiles.js';
import type { ActorExitMessage, AgentMessage, SignalMessage } from '../../src/wire/protocol.js';
import { silentProgress } from '../../src/vm/progress.js';
import { GuestSession } from '../../src/vm/session.js';

const MiB = 1 << 20;
const PAGE = 4096;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let session: GuestSession | undefined;
let lab: LabDriver;
const signals: SignalMessage[] = [];
const exits: ActorExitMessage[] = [];
const pids: Record<string, number> = {};

async function cat(path: string): Promise<string> {
  const r = await lab.exec(['/bin/cat', path]);
  return r.stdout;
}

/** State letter from /proc/<pid>/stat (the comm may contain spaces: split after the ")"). */
async function taskState(pid: number): Promise<string> {
  const stat = await cat(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** Poll until the task sleeps in a kernel function (its stack names it), or give up. */
async function waitForStack(pid: number, fn: string | RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let stack = '';
  while (Date.now() < deadline) {
    stack = await cat(`/proc/${pid}/stack`);
    if (typeof fn === 'string' ? stack.includes(fn) : fn.test(stack)) return stack;
    await sleep(50);
  }
  return stack;
}

async function until<T>(get: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined || Date.now() > deadline) return v;
    await sleep(20);
  }
}

/** True if the promise has not settled after ms. */
async function stillPending(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => false), sleep(ms).then(() => true)]);
}

beforeAll(async () => {
  session = await GuestSession.boot(loadProfile('default'), { progress: silentProgress });
  lab = new LabDriver(session.channel);
  session.channel.on('message', (m: AgentMessage) => {
    if (m.kind === 'signal') signals.push(m);
    if (m.kind === 'actor-exit') exits.push(m);
  });
  for (const name of ['holder', 'truncater']) {
    pids[name] = ((await lab.startActor(name)) as { pid: number }).pid;
  }
});

afterAll(async () => {
  await session?.shutdown();
});

describe('guest actors', () => {
  it('forks one process per actor, named after it', async () => {
    for (const [name, pid] of Object.entries(pids)) {
      expect(pid).toBeGreaterThan(1);
      expect((await cat(`/proc/${pid}/comm`)).trim()).toBe(name);
    }
    const asked = performance.now();
    const open = await lab.ok('holder', { op: 'open', path: 'victim', create: true, size: 2 * MiB });
    const roundTrip = performance.now() - asked;
    expect(open.result).toMatchObject({ path: '/mnt/dax/victim', size: 2 * MiB, dax: true });
    // The guest's time for the op fits in the host's round trip for it (two clocks).
    expect(open.ms).toBeLessThanOrEqual(roundTrip);
  });

  it('vmsplice holds an fsdax page: truncate sleeps in xfs_break_dax_layouts until the pipe is drained', async () => {
    const map = await lab.ok('holder', { op: 'mmap', length: 2 * MiB, flags: ['MAP_SHARED'] });
    expect(map.result).toMatchObject({ length: 2 * MiB, path: '/mnt/dax/victim', anonymous: false });
    const addr = String(map.result!.addr);
    // Independent: the mapping is in the holder's maps at that address.
    expect(await cat(`/proc/${pids.holder}/maps`)).toContain(`${addr.replace(/^0x/, '')}-`);
    await lab.ok('holder', { op: 'touch', pages: [0, 1], write: true });
    const spliced = await lab.ok('holder', { op: 'vmsplice', pages: [0] });
    expect(spliced.ret).toBe(PAGE);

    const truncate = await lab.start('truncater', { op: 'truncate', path: 'victim', size: 0 });
    const stack = await waitForStack(pids.truncater!, 'xfs_break_dax_layouts', 10_000);
    expect(stack).toContain('xfs_break_dax_layouts');
    expect(await taskState(pids.truncater!)).toBe('S');
    expect(await stillPending(truncate.end, 300)).toBe(true);

    // munmap does not release a vmsplice reference...
    await lab.ok('holder', { op: 'munmap' });
    expect(await stillPending(truncate.end, 500)).toBe(true);
    expect(await cat(`/proc/${pids.truncater}/stack`)).toContain('xfs_break_dax_layouts');

    // ...draining the pipe does.
    const drained = await lab.ok('holder', { op: 'drain' });
    expect(drained.result).toMatchObject({ bytes: PAGE });
    const end = await withTimeout(truncate.end, 10_000, 'truncate did not finish after the drain');
    expect(end.ret).toBe(0);
    expect(end.t).toBeGreaterThanOrEqual(drained.t - drained.ms! / 1000);
    expect((await lab.exec(['/bin/stat', '-c', '%s', '/mnt/dax/victim'])).stdout.trim()).toBe('0');
  });

  it('io_uring fixed buffers: EOPNOTSUPP on an fsdax mapping, registered on anonymous memory', async () => {
    await lab.ok('holder', { op: 'open', path: 'ring', create: true, size: 64 * 1024 });
    await lab.ok('holder', { op: 'mmap', length: 64 * 1024, flags: ['MAP_SHARED'] });
    await lab.ok('holder', { op: 'touch', pages: [0], write: true });
    const refused = await lab.act('holder', { op: 'io_uring_register', pages: [0] });
    expect(refused.ret).toBe(-1);
    expect(refused.error).toBe('EOPNOTSUPP');
    expect(refused.errno).toBe(os.constants.errno.EOPNOTSUPP);
    const ringFd = Number(refused.result!.ringFd);
    expect(await cat(`/proc/${pids.holder}/fdinfo/${ringFd}`)).toMatch(/UserBufs:\s+0\b/);

    await lab.ok('holder', { op: 'mmap', length: 64 * 1024, flags: ['MAP_PRIVATE'], anonymous: true });
    await lab.ok('holder', { op: 'touch', pages: [0, 1], write: true });
    const registered = await lab.ok('holder', { op: 'io_uring_register', pages: [0, 1] });
    expect(registered.ret).toBe(0);
    expect(await cat(`/proc/${pids.holder}/fdinfo/${ringFd}`)).toMatch(/UserBufs:\s+2\b/);
    await lab.ok('holder', { op: 'io_uring_unregister' });
    expect(await cat(`/proc/${pids.holder}/fdinfo/${ringFd}`)).toMatch(/UserBufs:\s+0\b/);
  });

  it('MAP_SHARED_VALIDATE|MAP_SYNC maps the DAX file (0x80000, MAP_DIRECT\'s value, is MAP_SYNC)', async () => {
    await lab.ok('holder', { op: 'open', path: 'sync', create: true, size: 64 * 1024 });
    const named = await lab.ok('holder', { op: 'mmap', length: 64 * 1024, flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] });
    const start = String(named.result!.addr).replace(/^0x/, '');
    const smaps = await cat(`/proc/${pids.holder}/smaps`);
    const vma = smaps.slice(smaps.indexOf(`${start}-`));
    // smaps shows VM_SYNC as "sf" in the mapping's VmFlags.
    expect(/VmFlags:([^\n]*)/.exec(vma)![1]!.split(' ')).toContain('sf');
    const raw = await lab.ok('holder', { op: 'mmap', length: 64 * 1024, flags: ['MAP_SHARED_VALIDATE', '0x80000'] });
    expect(raw.result!.flags).toBe(named.result!.flags);
    // Anonymous memory cannot be MAP_SHARED_VALIDATE: the kernel refuses.
    const anon = await lab.act('holder', { op: 'mmap', length: 64 * 1024, flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'], anonymous: true });
    expect(anon.ret).toBe(-1);
    expect(anon.errno).toBeGreaterThan(0);
  });

  it('a write lease breaks on truncate(2): the holder is signalled at once, /proc/locks shows BREAKING', async () => {
    const open = await lab.ok('holder', { op: 'open', path: 'leased', create: true, size: 64 * 1024 });
    await lab.ok('holder', { op: 'mmap', length: 64 * 1024, flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] });
    const lease = await lab.ok('holder', { op: 'lease', type: 'write', signal: 'SIGRTMIN+1' });
    expect(lease.result).toMatchObject({ signal: 'SIGRTMIN+1' });
    const ino = Number(open.result!.ino);
    const active = (await cat('/proc/locks')).split('\n').find((l) => l.includes(`:${ino} `));
    expect(active).toMatch(new RegExp(`LEASE\\s+ACTIVE\\s+WRITE\\s+${pids.holder}\\b`));

    const before = signals.length;
    const truncate = await lab.start('truncater', { op: 'truncate', path: 'leased', size: 0 });
    const sig = await until(() => signals.slice(before).find((s) => s.actor === 'holder'), 5000);
    expect(sig).toMatchObject({ actor: 'holder', pid: pids.holder, signal: 'SIGRTMIN+1', fd: open.ret });
    const locks = await cat('/proc/locks');
    expect(locks).toMatch(new RegExp(`LEASE\\s+BREAKING\\s+\\S+\\s+${pids.holder}\\b`));
    expect(locks).toMatch(new RegExp(`-> LEASE\\s+BREAKER\\s+\\S+\\s+${pids.truncater}\\b`));
    expect(await waitForStack(pids.truncater!, '__break_lease', 5000)).toContain('__break_lease');
    expect(await stillPending(truncate.end, 200)).toBe(true);

    await lab.ok('holder', { op: 'munmap' });
    const unlock = await lab.ok('holder', { op: 'lease', type: 'unlock' });
    const end = await withTimeout(truncate.end, 10_000, 'truncate did not finish after the lease was released');
    expect(end.ret).toBe(0);
    expect(end.t).toBeGreaterThan(sig!.t);
    expect(end.t).toBeGreaterThanOrEqual(unlock.t - unlock.ms! / 1000);
    expect((await cat('/proc/locks')).includes(`:${ino} `)).toBe(false);
  });

  it('a touch of a page of a file truncated to 0 raises SIGBUS, caught and reported', async () => {
    await lab.ok('holder', { op: 'open', path: 'bus', create: true, size: 64 * 1024 });
    await lab.ok('holder', { op: 'mmap', length: 64 * 1024, flags: ['MAP_SHARED'] });
    expect((await lab.ok('holder', { op: 'touch', pages: [0, 1], write: true })).result).toMatchObject({ touched: 2 });
    await lab.ok('truncater', { op: 'truncate', path: 'bus', size: 0 });
    const touch = await lab.act('holder', { op: 'touch', pages: [1], write: false });
    expect(touch.signal).toBe('SIGBUS');
    expect(touch.result).toMatchObject({ touched: 0, page: 1 });
    // The actor survives its SIGBUS and keeps serving.
    expect((await cat(`/proc/${pids.holder}/comm`)).trim()).toBe('holder');
    expect((await lab.act('holder', { op: 'sleep', ms: 1 })).ret).toBe(0);
  });

  it('O_DIRECT from a slow null_blk holds the fsdax page for the whole I/O', async () => {
    const completionNs = 1_000_000_000;
    const mod = await lab.exec(['/sbin/modprobe', 'null_blk', 'irqmode=2', `completion_nsec=${completionNs}`, 'nr_devices=1']);
    expect(mod.status, mod.stderr).toBe(0);
    await lab.ok('holder', { op: 'open', path: 'dio', create: true, size: 64 * 1024 });
    await lab.ok('holder', { op: 'mmap', length: 64 * 1024, flags: ['MAP_SHARED'] });
    await lab.ok('holder', { op: 'touch', pages: [0], write: true });
    const dio = await lab.start('holder', { op: 'odirect', device: '/dev/nullb0', pages: [0], write: false });
    // The truncate must come once the I/O holds the page: wait for the holder to sleep in it.
    expect(await waitForStack(pids.holder!, /blkdev_direct_IO/, 5000)).toMatch(/blkdev_direct_IO/);
    expect(await taskState(pids.holder!)).toBe('D');
    const truncate = await lab.start('truncater', { op: 'truncate', path: 'dio', size: 0 });
    expect(await waitForStack(pids.truncater!, 'xfs_break_dax_layouts', 5000)).toContain('xfs_break_dax_layouts');
    expect(await stillPending(dio.end, 0)).toBe(true);
    const io = await withTimeout(dio.end, 10_000, 'the O_DIRECT read did not finish');
    expect(io.ret).toBe(PAGE);
    expect(io.ms).toBeGreaterThanOrEqual(completionNs / 1e6 * 0.99);
    // Seen on 6.1.0-56 (every run so far): the truncater is not woken when this reference
    // goes, and a signal (caught, SA_RESTART) makes it look again and finish at once. Our
    // unconfirmed guess: the bio completion path drops the page with a put that skips the
    // fsdax 2 -> 1 wake-up (the class of bug of "mm: fix missing wake-up event for FSDAX
    // pages"). A kernel finding, not an actor property: the dma-vs-truncate scenario
    // reports it with its evidence.
    if (await stillPending(truncate.end, 3000)) {
      console.warn('truncate still asleep 3 s after the O_DIRECT reference went: nudging it with SIGUSR1');
      await session!.channel.request({ cmd: 'actor-kill', actor: 'truncater', signal: 'SIGUSR1' });
    }
    expect((await withTimeout(truncate.end, 5000, 'truncate did not finish')).ret).toBe(0);
  });

  it('queues actions in order; actor-kill ends the running one, cancels the queued one, reports the exit', async () => {
    const first = await lab.start('holder', { op: 'sleep', ms: 20_000 });
    const second = await lab.start('holder', { op: 'sleep', ms: 1 });
    expect(await stillPending(second.end, 300)).toBe(true);
    const before = signals.length;
    await session!.channel.request({ cmd: 'actor-kill', actor: 'holder', signal: 'SIGUSR2' });
    expect(await until(() => signals.slice(before).find((s) => s.signal === 'SIGUSR2'), 3000)).toMatchObject({ actor: 'holder' });
    await session!.channel.request({ cmd: 'actor-kill', actor: 'holder' });
    expect(await withTimeout(first.end, 5000, 'no end for the killed action')).toMatchObject({ ret: -1, signal: 'SIGKILL' });
    expect(await withTimeout(second.end, 5000, 'no end for the queued action')).toMatchObject({ ret: -1, error: 'ECANCELED' });
    const exit = await until(() => exits.find((e) => e.actor === 'holder'), 5000);
    expect(exit).toMatchObject({ pid: pids.holder, signal: 'SIGKILL' });
    expect((await lab.exec(['/bin/cat', `/proc/${pids.holder}/comm`])).status).not.toBe(0);
    await expect(session!.channel.request({ cmd: 'act', actor: 'holder', op: 'sleep', ms: 1 })).rejects.toThrow(/dead/);

    const bye = await lab.act('truncater', { op: 'exit', status: 3 });
    expect(bye.ret).toBe(3);
    expect(await until(() => exits.find((e) => e.actor === 'truncater'), 5000)).toMatchObject({ pid: pids.truncater, status: 3 });
  });
});
