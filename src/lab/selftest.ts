// The observer's self-test: known experiments on the running kernel, each observation
// checked against what the kernel era predicts and, where one exists, against an
// independent source (a kprobe that fetches the same field, /proc/vmstat).
import type { HelloResult, PageState, SnapshotMessage } from '../wire/protocol.js';
import type { LabDriver } from './driver.js';
import { DEVDAX_IDLE_RULE, expectedDevdax, expectedFsdaxIdle, FSDAX_IDLE_RULE, GUP_PIN_COUNTING_BIAS, measuredFsdaxIdle, type ObserveReply, type ProbeHits, type ProbeStatus } from './era.js';
import { BREAK_LAYOUTS_FRAME } from './scenarios/threads.js';
import { traceCommand } from './trace.js';
import { rememberCallScan } from './callScanCache.js';
import { samplersAgree } from './samplerCheck.js';

export type Check = {
  id: string;
  description: string;
  observed: unknown;
  expected: unknown;
  /**
   * notApplicable: the independent source does not exist on this kernel (a probe point it
   * lacks or does not call); the check then rests on its own observation alone.
   */
  crossCheck: { source: string; value: unknown; held: boolean; notApplicable?: string } | null;
  held: boolean;
  note?: string;
};

export type SelftestReport = {
  kernel: { release: string; idleBaseline: number | null; baselineEvidence: unknown; devdaxBaseline?: unknown };
  fs: string;
  checks: Check[];
  held: boolean;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The frame a waiting truncate sleeps in, on every era: xfs_break_dax_layouts() /
 * ext4_break_layouts() up to 6.x, dax_break_layout() (wait_page_idle()) from v6.15.
 */
const inBreakLayouts = new RegExp(BREAK_LAYOUTS_FRAME);

function pageOf(snap: SnapshotMessage, file: string, index: number): PageState {
  const page = snap.pages.find((p) => p.file === file && p.index === index);
  if (!page) throw new Error(`no watched page ${file}[${index}] in the snapshot`);
  return page;
}

const vmstat = (snap: SnapshotMessage, key: string) => snap.vmstat[key] ?? NaN;

/** The agent's trace reply (trace.c): what was attached, and why the rest was not. */
export type TraceReply = {
  kprobes: string[];
  kprobesFailed: string[];
  kprobeStatus?: ProbeStatus[];
  tracepoints?: string[];
  symbols?: string;
  callScan?: { measured: boolean; ms?: number; error?: string };
};

/**
 * null when one of the kprobe events `names` is attached on this kernel; otherwise why the
 * cross-check that needs it is not applicable here.
 */
export function probeUnavailable(trace: TraceReply, names: string[]): string | null {
  if (names.some((n) => trace.kprobes.includes(n))) return null;
  const why = names.map((n) => {
    const st = trace.kprobeStatus?.find((s) => s.name === n);
    return `${n}: ${st?.why ?? st?.status ?? 'not attached'}`;
  });
  return `not applicable: ${names.length > 1 ? 'none of ' : ''}${names.join(', ')} unavailable on this kernel (${why.join('; ')})`;
}

/** A cross-check whose independent source is missing on this kernel. */
function notApplicable(source: string, why: string): NonNullable<Check['crossCheck']> {
  return { source, value: why, held: true, notApplicable: why };
}

/** The counters fold per-CPU deltas every vm.stat_interval: wait past it before reading. */
async function settledVmstat(driver: LabDriver, intervalMs: number): Promise<SnapshotMessage> {
  await sleep(intervalMs * 2 + 200);
  return driver.sample();
}

export async function runSelftest(driver: LabDriver, hello: HelloResult, release: string, log: (line: string) => void): Promise<SelftestReport> {
  const checks: Check[] = [];
  const fs = hello.mount.fstype;
  const statIntervalMs = 1000;
  const sysctl = await driver.busybox('sysctl', '-w', 'vm.stat_interval=1');
  if (sysctl.status !== 0) throw new Error(`sysctl vm.stat_interval=1 failed: ${sysctl.stderr}`);
  // Probes measured as never called are attached as well: the check below watches them not fire.
  // Never from the host's cache: the self-test is what checks the scan.
  const trace = (await driver.channel.request({ ...traceCommand(), attachUncalled: true })) as TraceReply;
  rememberCallScan(trace);
  log(`tracing: kprobes ${trace.kprobes.join(', ')}${trace.kprobesFailed.length ? `; unavailable: ${trace.kprobesFailed.join(', ')}` : ''}`);
  for (const st of trace.kprobeStatus ?? []) if (st.status !== 'attached') log(`  ${st.name}: ${st.status}${st.why ? ` (${st.why})` : ''}`);
  const observe = (await driver.channel.request({ cmd: 'observe', hz: 0 })) as ObserveReply;

  for (const actor of ['holder', 'truncator', 'anon', 'writer', 'reader']) await driver.startActor(actor);
  const size = 2 * 1024 * 1024;
  await driver.ok('holder', { op: 'open', path: 'victim', create: true, size });
  await driver.ok('holder', { op: 'mmap', length: size, flags: ['MAP_SHARED'] });
  await driver.ok('holder', { op: 'touch', pages: [0], write: true });
  await driver.watchPages('holder', [0], 'victim');

  // 1. The idle refcount of an fsdax page.
  const idleSnap = await driver.sample();
  const idlePage = pageOf(idleSnap, 'victim', 0);
  const expectedIdle = expectedFsdaxIdle(release);
  const base = observe.baselines?.fsdax ?? { known: false, error: 'the agent reported no fsdax baseline' };
  checks.push({
    id: 'fsdax-idle-refcount',
    description: 'refcount of a mapped fsdax page that nothing else references',
    observed: { ref: idlePage.ref, mapcount: idlePage.mapcount, zoneDevice: idlePage.zoneDevice, pfn: idlePage.pfn },
    // Where mappings hold references (v6.15+), the mapped idle page shows its mapping's on
    // top of the idle refcount: the page's own mapcount says how many.
    expected: {
      idle: expectedIdle,
      ref: expectedIdle + (base.mappingsHoldRefs ? idlePage.mapcount : 0),
      aboveIdle: 0,
      zoneDevice: true,
      rule: FSDAX_IDLE_RULE,
    },
    crossCheck: {
      source: 'calibration: a probe page mapped twice, refcount and mapcount after each fault',
      value: base,
      held: base.known && (base.idle ?? NaN) + (base.mappingsHoldRefs ? idlePage.mapcount : 0) === idlePage.ref,
    },
    held:
      idlePage.zoneDevice &&
      measuredFsdaxIdle(observe) === expectedIdle &&
      idlePage.ref === expectedIdle + (base.mappingsHoldRefs ? idlePage.mapcount : 0) &&
      idlePage.aboveIdle === 0,
  });
  log(`fsdax idle: ref ${idlePage.ref} (pfn ${idlePage.pfn})`);

  // 1b. The idle refcount of a device-dax page, calibrated on its own (its pgmap type,
  // MEMORY_DEVICE_GENERIC, stays 1-based where fsdax became 0-based).
  const devdaxCheck = await devdaxIdle(driver, hello, release, observe);
  if (devdaxCheck) {
    checks.push(devdaxCheck);
    log(`device-dax idle: ${JSON.stringify(devdaxCheck.observed)}`);
  } else log('device-dax idle: this profile has no devdax namespace (not checked)');

  // 2. vmsplice takes a reference outside any page table; draining the pipe drops it.
  const vmsplice = await driver.act('holder', { op: 'vmsplice', pages: [0] });
  const splicedPage = pageOf(await driver.sample(), 'victim', 0);
  log(`after vmsplice: ref ${splicedPage.ref} (${vmsplice.error ?? 'ok'})`);
  const releases = driver.collectEvents();
  await driver.ok('holder', { op: 'drain' });
  const drainedPage = pageOf(await driver.sample(), 'victim', 0);
  await sleep(300); // let trace_pipe deliver the release event
  const release_ = releases
    .stop()
    .find((e) => /pipe_buf_release/.test(e.name) && String(e.fields.page) === splicedPage.addr);
  const releaseRef = release_ ? Number(release_.fields.ref) : null;
  const noReleaseProbe = probeUnavailable(trace, ['generic_pipe_buf_release', 'page_cache_pipe_buf_release']);
  const releaseSource = 'kprobe on the pipe buffer release: the struct page pointer and its _refcount as the kernel reads them';
  checks.push({
    id: 'vmsplice-ref',
    description: 'vmsplice of the fsdax page into a pipe adds one reference (FOLL_GET, no pin)',
    observed: { ref: splicedPage.ref, aboveIdle: splicedPage.aboveIdle, pins: splicedPage.pins, ret: vmsplice.ret, error: vmsplice.error ?? null },
    expected: { aboveIdle: 1, pins: 0 },
    crossCheck: noReleaseProbe
      ? notApplicable(releaseSource, noReleaseProbe)
      : {
          source: releaseSource,
          value: release_ ? { page: release_.fields.page, ref: releaseRef } : 'no release event for this page',
          held: releaseRef === splicedPage.ref,
        },
    held: !vmsplice.error && splicedPage.aboveIdle === 1 && splicedPage.pins === 0,
  });
  checks.push({
    id: 'vmsplice-drain',
    description: 'draining the pipe gives the reference back: the page returns to idle',
    observed: { ref: drainedPage.ref, aboveIdle: drainedPage.aboveIdle },
    expected: { ref: idlePage.ref, aboveIdle: 0 },
    crossCheck: noReleaseProbe
      ? notApplicable('kprobe on the pipe buffer release', noReleaseProbe)
      : {
          source: 'kprobe on the pipe buffer release: refcount before the put, minus the one reference released',
          value: releaseRef === null ? 'no release event' : releaseRef - 1,
          held: releaseRef !== null && releaseRef - 1 === drainedPage.ref,
        },
    held: drainedPage.aboveIdle === 0 && drainedPage.ref === idlePage.ref,
  });

  // 3. io_uring fixed buffers on anonymous memory: FOLL_PIN | FOLL_LONGTERM.
  const anonPages = [0, 1, 2, 3];
  await driver.ok('anon', { op: 'mmap', length: anonPages.length * 4096, flags: ['MAP_PRIVATE'], anonymous: true });
  await driver.ok('anon', { op: 'touch', pages: anonPages, write: true });
  await driver.watchPages('anon', anonPages, 'anon');
  const beforePin = await settledVmstat(driver, statIntervalMs);
  const register = await driver.act('anon', { op: 'io_uring_register', pages: anonPages });
  const pinnedSnap = await driver.sample();
  const afterPin = await settledVmstat(driver, statIntervalMs);
  const before = anonPages.map((i) => pageOf(beforePin, 'anon', i));
  const after = anonPages.map((i) => pageOf(pinnedSnap, 'anon', i));
  const acquired = vmstat(afterPin, 'nr_foll_pin_acquired') - vmstat(beforePin, 'nr_foll_pin_acquired');
  const pinsSeen = after.reduce((n, p) => n + p.pins, 0);
  checks.push({
    id: 'anon-io_uring-pin',
    description: 'io_uring buffer registration pins anonymous pages: refcount rises by the pin bias',
    observed: {
      refBefore: before.map((p) => p.ref),
      aboveIdleBefore: before.map((p) => p.aboveIdle),
      lruBatchBefore: before.map((p) => p.lruBatch ?? false),
      refAfter: after.map((p) => p.ref),
      aboveIdleAfter: after.map((p) => p.aboveIdle),
      pins: after.map((p) => p.pins),
      ret: register.ret,
      error: register.error ?? null,
    },
    expected: { aboveIdleAfterEach: GUP_PIN_COUNTING_BIAS, pinsEach: 1 },
    note: [...before, ...after].some((p) => p.lruBatch)
      ? 'some pages still sat in a per-CPU LRU batch, which holds one reference of its own: the observer counts it apart (lruBatch)'
      : undefined,
    crossCheck: {
      source: '/proc/vmstat nr_foll_pin_acquired delta (read after vm.stat_interval)',
      value: acquired,
      held: acquired === pinsSeen,
    },
    held: !register.error && after.every((p) => p.aboveIdle === GUP_PIN_COUNTING_BIAS && p.pins === 1),
  });
  await driver.ok('anon', { op: 'io_uring_unregister' });

  // 4. io_uring on the fsdax mapping: refused.
  const fsdaxBefore = await settledVmstat(driver, statIntervalMs);
  const fsdaxRegister = await driver.act('holder', { op: 'io_uring_register', pages: [0] });
  const fsdaxAfter = await settledVmstat(driver, statIntervalMs);
  const fsdaxPage = pageOf(fsdaxAfter, 'victim', 0);
  const leaked =
    vmstat(fsdaxAfter, 'nr_foll_pin_acquired') - vmstat(fsdaxBefore, 'nr_foll_pin_acquired') -
    (vmstat(fsdaxAfter, 'nr_foll_pin_released') - vmstat(fsdaxBefore, 'nr_foll_pin_released'));
  checks.push({
    id: 'fsdax-io_uring-register',
    description: 'io_uring refuses fixed buffers on an fsdax mapping (6.1 refuses every file-backed, non-hugetlb mapping)',
    observed: { ret: fsdaxRegister.ret, error: fsdaxRegister.error ?? null, refAfter: fsdaxPage.ref },
    expected: { error: 'EOPNOTSUPP', refAfter: idlePage.ref },
    crossCheck: {
      source: '/proc/vmstat pins acquired minus released around the call (no pin may stay behind)',
      value: leaked,
      held: leaked === 0,
    },
    held: fsdaxRegister.error === 'EOPNOTSUPP' && fsdaxPage.ref === idlePage.ref,
  });

  // 5. Truncate while the page is referenced: it must wait in break-layouts.
  for (const a of ['writer', 'reader']) await driver.ok(a, { op: 'open', path: 'victim' });
  await driver.ok('holder', { op: 'vmsplice', pages: [0] });
  const referenced = pageOf(await driver.sample(), 'victim', 0);
  const truncateEvents = driver.collectEvents();
  const truncate = await driver.start('truncator', { op: 'truncate', path: 'victim', size: 0 });
  let truncateEnd: { t: number; error?: string } | null = null;
  void truncate.end.then((e) => (truncateEnd = e));
  const blocked = await driver.waitFor((s) => {
    const a = s.actors.find((x) => x.name === 'truncator');
    return !!a && a.state !== 'R' && a.stack.some((f) => inBreakLayouts.test(f));
  }, 5000);
  const locksSeen = new Map<string, Set<string>>();
  const noteLocks = (s: SnapshotMessage) => {
    for (const l of s.locks) {
      const key = `${l.lock} of ${l.file}`;
      const state = l.state === 'free' ? 'free' : `${l.state}${l.owner ? ` by ${l.owner.comm}(${l.owner.pid})` : ''}`;
      if (!locksSeen.has(key)) locksSeen.set(key, new Set());
      locksSeen.get(key)!.add(state + (l.waiters.length ? ` +${l.waiters.length} waiting` : ''));
    }
  };
  // 5b. Queue a writer, then a reader, behind the i_rwsem the truncator holds for write:
  // the observer's wait list (read from the rw_semaphore through kcore; 7.2 has no list
  // anchor any more) against each waiter's own /proc/<pid>/stack.
  const queued = await queueWaiters(driver);
  const heldFor: SnapshotMessage[] = [];
  const holdUntil = Date.now() + 1000;
  while (Date.now() < holdUntil) {
    const s = await driver.sample();
    heldFor.push(s);
    noteLocks(s);
    await sleep(100);
  }
  const stillBlocked = truncateEnd === null;
  const truncator = (heldFor.at(-1) ?? blocked)?.actors.find((a) => a.name === 'truncator');
  // 5c. While nothing moves (the truncator and both waiters asleep), the same state read by
  // each of the agent's samplers.
  checks.push(await samplersAgree(driver));
  const drain = await driver.ok('holder', { op: 'drain' });
  const end = await Promise.race([truncate.end, sleep(10_000).then(() => null)]);
  const queuedEnds = await Promise.race([Promise.all(queued.ends), sleep(10_000).then(() => null)]);
  await sleep(300);
  const busy = truncateEvents.stop().filter((e) => e.name === 'dax_layout_busy_page_range__return' && String(e.fields.page) === referenced.addr);
  const busyRefs = [...new Set(busy.map((e) => Number(e.fields.ref)))];
  // The kernel reads the refcount after unmapping the file (dax_layout_busy_page_range()
  // unmaps first): where mappings hold references (v6.15+) theirs are gone by then.
  const refAfterUnmap = referenced.ref - (base.mappingsHoldRefs ? referenced.mapcount : 0);
  const noBusyProbe = probeUnavailable(trace, ['dax_layout_busy_page_range__return']);
  const busySource = 'kretprobe on dax_layout_busy_page_range: the busy page the kernel found and its _refcount (after it unmapped the file)';
  checks.push({
    id: 'truncate-while-referenced',
    description: 'truncate(2) of the file while a pipe references its page: waits in break-layouts, finishes after the drain',
    observed: {
      state: truncator?.state ?? null,
      stack: truncator?.stack ?? [],
      blockedMs: truncator?.blockedMs ?? null,
      stillBlockedAfter1s: stillBlocked,
      locksSeen: Object.fromEntries([...locksSeen].map(([k, v]) => [k, [...v]])),
      finished: end !== null,
      finishedAfterDrainMs: end ? Math.round((end.t - drain.t) * 1000) : null,
      error: end?.error ?? null,
    },
    expected: { state: 'S', stackHas: `a break-layouts frame (${BREAK_LAYOUTS_FRAME})`, finished: true },
    crossCheck: noBusyProbe
      ? notApplicable(busySource, noBusyProbe)
      : {
          source: busySource,
          value: busy.length ? { page: busy[0]!.fields.page, refs: busyRefs, times: busy.length, expectedRef: refAfterUnmap } : 'no busy-page event for this page',
          held: busy.length > 0 && busyRefs.includes(refAfterUnmap),
        },
    held:
      !!truncator &&
      truncator.state === 'S' &&
      truncator.stack.some((f) => inBreakLayouts.test(f)) &&
      stillBlocked &&
      end !== null &&
      !end.error,
  });

  checks.push(waitersCheck(queued, queuedEnds));
  const stackFrames = new Set(
    [blocked, ...heldFor]
      .flatMap((snap) => snap?.actors.find((a) => a.name === 'truncator')?.stack ?? [])
      .map(frameFunction)
      .filter((f): f is string => !!f),
  );
  const hits = (await driver.channel.request({ cmd: 'probe-hits' })) as ProbeHits;
  checks.push(probesCalledCheck(trace, hits, stackFrames));

  return {
    kernel: { release, idleBaseline: measuredFsdaxIdle(observe), baselineEvidence: base, devdaxBaseline: observe.baselines?.devdax ?? null },
    fs,
    checks,
    held: checks.every((c) => c.held && (c.crossCheck?.held ?? true)),
  };
}

/**
 * A device-dax page mapped, then unmapped: "above idle" must be 0 both times, and the
 * unmapped page's refcount is the idle refcount itself, read on a page the calibration
 * never touched (it maps the device's last chunk twice): that is the cross-check. The
 * era's history (DEVDAX_IDLE_RULE) is the prediction both are held against.
 */
async function devdaxIdle(driver: LabDriver, hello: HelloResult, release: string, observe: ObserveReply): Promise<Check | null> {
  const ns = hello.nvdimms.find((n) => n.mode === 'devdax');
  const chardev = (ns?.daxregion as { devices?: Array<{ chardev?: string }> } | undefined)?.devices?.[0]?.chardev;
  if (!chardev) return null;
  const size = 2 * 1024 * 1024;
  await driver.startActor('devdax');
  await driver.ok('devdax', { op: 'open', path: `/dev/${chardev}` });
  await driver.ok('devdax', { op: 'mmap', length: size, flags: ['MAP_SHARED'] });
  await driver.ok('devdax', { op: 'touch', pages: [0], write: false });
  await driver.watchPages('devdax', [0], 'devdax');
  const mapped = pageOf(await driver.sample(), 'devdax', 0);
  await driver.ok('devdax', { op: 'munmap' });
  const unmapped = pageOf(await driver.sample(), 'devdax', 0);
  const predicted = expectedDevdax(release);
  const base = observe.baselines?.devdax ?? { known: false, error: 'the agent reported no device-dax baseline' };
  const holds = base.mappingsHoldRefs ?? false;
  const fmc = (p: PageState) => p.folioMapcount ?? p.mapcount;
  const view = (p: PageState) => ({ ref: p.ref, folioMapcount: fmc(p), idle: p.idle, aboveIdle: p.aboveIdle, baseline: p.baseline ?? null, pfn: p.pfn });
  return {
    id: 'devdax-idle-refcount',
    description: 'refcount of a device-dax page that nothing else references, mapped and after munmap (calibrated apart from fsdax)',
    observed: { mapped: view(mapped), unmapped: view(unmapped) },
    expected: {
      idle: predicted.idle,
      mappingsHoldRefs: predicted.mappingsHoldRefs,
      mappedRef: predicted.idle + (predicted.mappingsHoldRefs ? fmc(mapped) : 0),
      unmappedRef: predicted.idle,
      aboveIdle: 0,
      rule: DEVDAX_IDLE_RULE,
    },
    crossCheck: {
      source: "calibration: the device's last 2 MiB mapped twice, refcount and mapcount after each fault (a page this check never touched)",
      value: base,
      held: base.known && base.idle === unmapped.ref && (base.idle ?? NaN) + (holds ? fmc(mapped) : 0) === mapped.ref,
    },
    held:
      mapped.zoneDevice &&
      mapped.baseline === 'devdax' &&
      base.idle === predicted.idle &&
      holds === predicted.mappingsHoldRefs &&
      mapped.aboveIdle === 0 &&
      unmapped.aboveIdle === 0 &&
      unmapped.ref === predicted.idle &&
      fmc(unmapped) === 0,
  };
}

/**
 * Where a task queued on the file's i_rwsem sleeps, by kind, as its own /proc/<pid>/stack
 * shows it: the rwsem slow path when the stack has it, otherwise (the kernels measured here
 * leave the __sched lock functions out: the stack starts at xfs_ilock) the filesystem's
 * read or write path that took the lock (xfs_file_dax_write() takes XFS_IOLOCK_EXCL,
 * xfs_file_dax_read() XFS_IOLOCK_SHARED; ext4_dax_write_iter() inode_lock(),
 * ext4_dax_read_iter() inode_lock_shared(); Debian 6.1 inlines those two into
 * ext4_file_write_iter() / ext4_file_read_iter(), whose frames the stack then shows).
 */
const RWSEM_WAIT_FRAME = {
  write: /^(?:rwsem_down_write_slowpath|down_write(?:_killable)?|xfs_file_dax_write|ext4_dax_write_iter|ext4_file_write_iter)\+/,
  read: /^(?:rwsem_down_read_slowpath|down_read(?:_killable|_interruptible)?|xfs_file_dax_read|ext4_dax_read_iter|ext4_file_read_iter)\+/,
} as const;

type Queued = {
  ends: Array<Promise<{ t: number; error?: string }>>;
  /** The snapshot that saw both queued (null: they never were within 5 s). */
  snap: SnapshotMessage | null;
  pids: { writer: number | null; reader: number | null };
};

/**
 * While the truncator holds i_rwsem for write: a write(2) (xfs_file_dax_write() /
 * ext4_dax_write_iter() take it for write), then, once that one waits, a read(2) (shared):
 * two waiters, in that order.
 */
async function queueWaiters(driver: LabDriver): Promise<Queued> {
  const rwsem = (s: SnapshotMessage) => s.locks.find((l) => l.lock === 'i_rwsem' && l.file === 'victim');
  const pidOf = (s: SnapshotMessage, name: string) => s.actors.find((a) => a.name === name)?.pid ?? null;
  const writer = await driver.start('writer', { op: 'write', offset: 0, length: 4096 });
  const w = await driver.waitFor((s) => (rwsem(s)?.waiters.length ?? 0) >= 1, 5000);
  const reader = await driver.start('reader', { op: 'read', offset: 0, length: 4096 });
  const snap = w ? await driver.waitFor((s) => (rwsem(s)?.waiters.length ?? 0) >= 2, 5000) : null;
  const last = snap ?? (await driver.sample());
  return { ends: [writer.end, reader.end], snap, pids: { writer: pidOf(last, 'writer'), reader: pidOf(last, 'reader') } };
}

function waitersCheck(q: Queued, ends: Array<{ t: number; error?: string }> | null): Check {
  const lock = q.snap?.locks.find((l) => l.lock === 'i_rwsem' && l.file === 'victim');
  const waiters = lock?.waiters ?? [];
  const expected = [
    { pid: q.pids.writer, type: 'write' as const },
    { pid: q.pids.reader, type: 'read' as const },
  ];
  // The independent source: each queued task's own kernel stack, read from /proc/<pid>/stack
  // in the same snapshot, sleeping in the slow path of the kind the observer says.
  const stacks = expected.map((e) => {
    const actor = q.snap?.actors.find((a) => a.pid === e.pid);
    const stack = actor?.stack ?? [];
    const other = e.type === 'write' ? 'read' : 'write';
    // Uninterruptible (rwsem waits are TASK_UNINTERRUPTIBLE), in the path of its kind, not the other's.
    const sleepsAsSaid = actor?.state === 'D' && stack.some((f) => RWSEM_WAIT_FRAME[e.type].test(f.trim())) && !stack.some((f) => RWSEM_WAIT_FRAME[other].test(f.trim()));
    return { pid: e.pid, type: e.type, state: actor?.state ?? null, wchan: actor?.wchan ?? null, sleepsAsSaid, stack };
  });
  return {
    id: 'rwsem-waiters',
    description: "a writer and then a reader queued behind the truncator's i_rwsem: the observer's wait list, in order, with each waiter's kind",
    observed: { owner: lock?.owner ?? null, state: lock?.state ?? null, waiters, finishedAfterDrain: ends ? ends.map((e) => e.error ?? 'ok') : 'not within 10 s' },
    expected: { state: 'write', waiters: expected },
    crossCheck: {
      source: "each waiter's state and /proc/<pid>/stack in the same snapshot: uninterruptible, in the lock-taking path of its kind (the rwsem slow path, or the filesystem's DAX read / write path)",
      value: stacks,
      held: stacks.every((x) => x.pid !== null && x.sleepsAsSaid),
    },
    held:
      !!q.snap &&
      lock?.state === 'write' &&
      waiters.length === 2 &&
      expected.every((e, i) => waiters[i]?.pid === e.pid && waiters[i]?.type === e.type) &&
      !!ends &&
      ends.every((e) => !e.error),
  };
}

/** "[<0>] xfs_break_layouts+0x4c/0x1a0 [xfs]" -> "xfs_break_layouts". */
export function frameFunction(frame: string): string | null {
  return /^(?:\[<[^>]*>\]\s*)?([A-Za-z0-9_.$]+)\+0x/.exec(frame.trim())?.[1] ?? null;
}

/**
 * Whether each probe point is called, as the agent measured it (a scan of the kernel's and
 * the modules' code and data for calls to it and references to its address), against what
 * the probes did during the self-test (kprobe_profile hits): a probe measured as not called
 * must not fire; one whose function the truncator's /proc/<pid>/stack showed (the
 * independent source) must have been measured as called, and must have fired.
 */
export function probesCalledCheck(trace: TraceReply, hits: ProbeHits, stackFrames: Set<string>): Check {
  const hitsOf = (name: string) => hits.probes.find((p) => p.name === name)?.hits ?? null;
  const rows = (trace.kprobeStatus ?? [])
    .filter((st) => st.attached)
    .map((st) => ({
      name: st.name,
      status: st.status,
      callSites: st.callSites ?? null,
      addressRefs: st.addressRefs ?? null,
      hits: hitsOf(st.name),
      onStack: stackFrames.has(st.function),
    }));
  const uncalledFired = rows.filter((r) => r.status === 'not called' && r.hits !== 0);
  const stackNotFired = rows.filter((r) => r.onStack && !(r.hits && r.hits > 0));
  const stackNotMeasured = rows.filter((r) => r.onStack && r.status !== 'attached');
  const measured = trace.callScan?.measured === true;
  // Without a measurement every probe that exists is attached as called: the hits are then
  // only reported, and the cross-check does not apply.
  return {
    id: 'probes-called',
    description: 'whether each probe point is called, measured in the kernel\'s code (call sites), against the probes\' hits during the self-test',
    observed: { callScan: trace.callScan ?? null, probes: rows },
    expected: { notCalledHits: 0, onTruncatorStack: 'measured as called, fired at least once' },
    note: rows.some((r) => r.status === 'not called')
      ? `measured as not called here (attached anyway, to watch them not fire): ${rows.filter((r) => r.status === 'not called').map((r) => r.name).join(', ')}`
      : undefined,
    crossCheck: measured
      ? {
          source: "the truncator's /proc/<pid>/stack while it waited: functions the kernel did enter",
          value: [...stackFrames],
          held: stackNotFired.length === 0 && stackNotMeasured.length === 0,
        }
      : notApplicable('the call-site measurement', `not applicable: the agent could not measure who calls the probe points here (${trace.callScan?.error ?? 'no measurement in its reply'})`),
    held: uncalledFired.length === 0 && rows.every((r) => r.hits !== null),
  };
}
