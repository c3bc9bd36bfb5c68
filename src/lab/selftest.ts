// The observer's self-test: known experiments on the running kernel, each observation
// checked against what the kernel era predicts and, where one exists, against an
// independent source (a kprobe that fetches the same field, /proc/vmstat).
import type { HelloResult, PageState, SnapshotMessage } from '../wire/protocol.js';
import type { LabDriver } from './driver.js';
import { expectedFsdaxIdle, FSDAX_IDLE_RULE, GUP_PIN_COUNTING_BIAS, measuredFsdaxIdle, type ObserveReply } from './era.js';
import { traceCommand } from './trace.js';

export type Check = {
  id: string;
  description: string;
  observed: unknown;
  expected: unknown;
  crossCheck: { source: string; value: unknown; held: boolean } | null;
  held: boolean;
  note?: string;
};

export type SelftestReport = {
  kernel: { release: string; idleBaseline: number | null; baselineEvidence: unknown };
  fs: string;
  checks: Check[];
  held: boolean;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pageOf(snap: SnapshotMessage, file: string, index: number): PageState {
  const page = snap.pages.find((p) => p.file === file && p.index === index);
  if (!page) throw new Error(`no watched page ${file}[${index}] in the snapshot`);
  return page;
}

const vmstat = (snap: SnapshotMessage, key: string) => snap.vmstat[key] ?? NaN;

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
  const trace = (await driver.channel.request(traceCommand())) as { kprobes: string[]; kprobesFailed: string[] };
  log(`tracing: kprobes ${trace.kprobes.join(', ')}${trace.kprobesFailed.length ? `; unavailable: ${trace.kprobesFailed.join(', ')}` : ''}`);
  const observe = (await driver.channel.request({ cmd: 'observe', hz: 0 })) as ObserveReply;

  for (const actor of ['holder', 'truncator', 'anon']) await driver.startActor(actor);
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
    expected: { ref: expectedIdle, zoneDevice: true, rule: FSDAX_IDLE_RULE },
    crossCheck: {
      source: 'calibration: a probe page mapped twice, refcount and mapcount after each fault',
      value: base,
      held: base.known && (base.idle ?? NaN) + (base.mappingsHoldRefs ? idlePage.mapcount : 0) === idlePage.ref,
    },
    held: idlePage.zoneDevice && idlePage.ref === expectedIdle && idlePage.aboveIdle === 0,
  });
  log(`fsdax idle: ref ${idlePage.ref} (pfn ${idlePage.pfn})`);

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
  checks.push({
    id: 'vmsplice-ref',
    description: 'vmsplice of the fsdax page into a pipe adds one reference (FOLL_GET, no pin)',
    observed: { ref: splicedPage.ref, aboveIdle: splicedPage.aboveIdle, pins: splicedPage.pins, ret: vmsplice.ret, error: vmsplice.error ?? null },
    expected: { aboveIdle: 1, pins: 0 },
    crossCheck: {
      source: 'kprobe on the pipe buffer release: the struct page pointer and its _refcount as the kernel reads them',
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
    crossCheck: {
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
  await driver.ok('holder', { op: 'vmsplice', pages: [0] });
  const referenced = pageOf(await driver.sample(), 'victim', 0);
  const truncateEvents = driver.collectEvents();
  const truncate = await driver.start('truncator', { op: 'truncate', path: 'victim', size: 0 });
  let truncateEnd: { t: number; error?: string } | null = null;
  void truncate.end.then((e) => (truncateEnd = e));
  const blocked = await driver.waitFor((s) => {
    const a = s.actors.find((x) => x.name === 'truncator');
    return !!a && a.state !== 'R' && a.stack.some((f) => /break_(dax_)?layouts/.test(f));
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
  const drain = await driver.ok('holder', { op: 'drain' });
  const end = await Promise.race([truncate.end, sleep(10_000).then(() => null)]);
  await sleep(300);
  const busy = truncateEvents.stop().filter((e) => e.name === 'dax_layout_busy_page_range__return' && String(e.fields.page) === referenced.addr);
  const busyRefs = [...new Set(busy.map((e) => Number(e.fields.ref)))];
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
    expected: { state: 'S', stackHas: fs === 'xfs' ? 'xfs_break_dax_layouts' : 'ext4_break_layouts', finished: true },
    crossCheck: {
      source: 'kretprobe on dax_layout_busy_page_range: the busy page the kernel found and its _refcount',
      value: busy.length ? { page: busy[0]!.fields.page, refs: busyRefs, times: busy.length } : 'no busy-page event for this page',
      held: busy.length > 0 && busyRefs.includes(referenced.ref),
    },
    held:
      !!truncator &&
      truncator.state === 'S' &&
      truncator.stack.some((f) => f.startsWith(fs === 'xfs' ? 'xfs_break_dax_layouts' : 'ext4_break_layouts')) &&
      stillBlocked &&
      end !== null &&
      !end.error,
  });

  return {
    kernel: { release, idleBaseline: measuredFsdaxIdle(observe), baselineEvidence: base },
    fs,
    checks,
    held: checks.every((c) => c.held && (c.crossCheck?.held ?? true)),
  };
}
