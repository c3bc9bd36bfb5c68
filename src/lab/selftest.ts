// The observer's self-test: known experiments on the running kernel, each observation
// checked against what the kernel era predicts and, where one exists, against an
// independent source (a kprobe that fetches the same field, /proc/vmstat).
import type { HelloResult, PageState, SnapshotMessage } from '../wire/protocol.js';
import type { LabDriver } from './driver.js';
import { expectedFsdaxIdle, FSDAX_IDLE_RULE, GUP_PIN_COUNTING_BIAS, measuredFsdaxIdle, type ObserveReply } from './era.js';
import { BREAK_LAYOUTS_FRAME } from './scenarios/threads.js';
import { traceCommand } from './trace.js';

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
  kernel: { release: string; idleBaseline: number | null; baselineEvidence: unknown };
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
  kprobeStatus?: Array<{ name: string; function: string; status: string; why?: string }>;
  tracepoints?: string[];
  symbols?: string;
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
  const trace = (await driver.channel.request(traceCommand())) as TraceReply;
  log(`tracing: kprobes ${trace.kprobes.join(', ')}${trace.kprobesFailed.length ? `; unavailable: ${trace.kprobesFailed.join(', ')}` : ''}`);
  for (const st of trace.kprobeStatus ?? []) if (st.status !== 'attached') log(`  ${st.name}: ${st.status}${st.why ? ` (${st.why})` : ''}`);
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

  return {
    kernel: { release, idleBaseline: measuredFsdaxIdle(observe), baselineEvidence: base },
    fs,
    checks,
    held: checks.every((c) => c.held && (c.crossCheck?.held ?? true)),
  };
}
