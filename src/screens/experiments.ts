// The lab's own small experiments, written in the shape of the scenario model (actors,
// steps with a narrative, expectations evaluated over the live state) so the dashboard
// and Guided mode run on a real guest before the scenario engine (issue 4) lands. Each
// expectation is a pure predicate over LabState and the step times: the same verdict
// live and over a replayed transcript.
import type { ActorOp, HostCommand } from '../lab/protocol.js';
import type { LabState } from '../lab/state.js';
import type { ExpectationStatus, Intervention, ScenarioInfo, StepInfo } from './model.js';
import { actorRow, fmtMs } from './view.js';

export type StepTimes = { start: number | null; end: number | null };

/** What a step does in the guest. */
export type ExperimentStep = StepInfo & {
  actor: string;
  do: ActorOp;
  /** Do not wait for the action's end (it is expected to block). */
  async?: boolean;
  /** Pages of the actor's mapping to watch once the step has run. */
  watchPages?: { pages: number[]; label: string };
  /** Stay on this step that long after it ran (the lab waits; in Guided mode the user does). */
  holdMs?: number;
};

export type Verdict = { status: ExpectationStatus; detail?: string; evidence?: string[] };

export type ExperimentExpectation = {
  id: string;
  description: string;
  step: number;
  /** Decide from the state; `times[i]` are the guest times step i started and ended. */
  check(state: LabState, times: readonly StepTimes[]): Verdict;
};

export type Experiment = ScenarioInfo & {
  steps: ExperimentStep[];
  actors: string[];
  trace: Extract<HostCommand, { cmd: 'trace' }>;
  expectations: ExperimentExpectation[];
  interventionOps: Record<string, { actor: string; op: ActorOp | { op: 'kill' } }>;
};

const MB2 = 2 * 1024 * 1024;
const BREAK_LAYOUTS = /break_(dax_)?layouts/;

function page(state: LabState, key: string) {
  return state.pages[key] ?? null;
}

function stackEvidence(state: LabState, actor: string): string[] {
  const a = state.actors[actor];
  if (!a?.task) return [`${actor}: not in the latest snapshot`];
  return [`${actor} (pid ${a.task.pid}) state ${a.task.state} in ${a.task.wchan}`, ...a.task.stack.slice(0, 6).map((f) => `  ${f}`)];
}

function refEvidence(state: LabState, key: string): string[] {
  const h = state.refHistory[key];
  if (!h) return [`${key}: never seen`];
  return [`${key} refcount history (guest s): ${h.changes.map((c) => `${c.ref}@${c.t.toFixed(2)}`).join(' ')} (idle ${h.idle})`];
}

/** The action an actor ran in a step (by op, the latest one started at or after the step's start). */
function actionOf(state: LabState, actor: string, op: string, since: number | null) {
  for (let i = state.actions.length - 1; i >= 0; i--) {
    const a = state.actions[i]!;
    if (a.actor === actor && a.op === op && (since === null || (a.start ?? a.end ?? 0) >= since - 1e-6)) return a;
  }
  return null;
}

function blockedIn(state: LabState, actor: string, re: RegExp): string | null {
  const a = state.actors[actor];
  if (!a?.task) return null;
  const row = actorRow(a, state.lastT ?? 0);
  if (!row.blocked) return null;
  return a.task.stack.find((f) => re.test(f)) ?? null;
}

// ---------------------------------------------------------------------------------------

const vmspliceSteps: ExperimentStep[] = [
  {
    label: 'holder: create victim (2 MiB) on the DAX mount',
    actor: 'holder',
    do: { op: 'open', path: 'victim', create: true, size: MB2 },
    say: 'The holder creates a 2 MiB file on the -o dax mount. Its blocks live in the emulated NVDIMM; there is no page cache in between.',
  },
  {
    label: 'holder: mmap it MAP_SHARED',
    actor: 'holder',
    do: { op: 'mmap', length: MB2, flags: ['MAP_SHARED'] },
    say: 'A shared mapping of a DAX file maps the persistent memory itself: a page fault installs the pfn of the pmem block.',
  },
  {
    label: 'holder: write-fault page 0, watch it',
    actor: 'holder',
    do: { op: 'touch', pages: [0], write: true },
    watchPages: { pages: [0], label: 'victim' },
    watch: { panel: 'pages', row: 'victim#0' },
    say:
      'The write fault maps page 0. Pages panel: victim#0 appears with its pfn, at the idle refcount (1 for fsdax before v6.15, 0 from v6.15). ' +
      'The locks of its mapping (invalidate_lock, i_mmap_rwsem) and inode (i_rwsem) appear in the Locks panel, all free.',
  },
  {
    label: 'holder: vmsplice page 0 into a pipe',
    actor: 'holder',
    do: { op: 'vmsplice', pages: [0] },
    watch: { panel: 'pages', row: 'victim#0' },
    say:
      'vmsplice() takes a reference on the page with get_user_pages (FOLL_GET, not a pin) and parks it in the pipe, outside any page table. ' +
      'Pages panel: victim#0 rises to one above idle, pins stays 0. Nothing bounds how long the pipe keeps it. ' +
      '("[PATCH 0/4] dax: fix dma vs truncate", <20171026105850.GA31161@quack2.suse.cz>)',
  },
  {
    label: 'truncator: truncate victim to 0',
    actor: 'truncator',
    do: { op: 'truncate', path: 'victim', size: 0 },
    async: true,
    holdMs: 1500,
    watch: { panel: 'actors', row: 'truncator' },
    say:
      'Truncate must not free a block the pipe (or a device doing DMA) still references. The filesystem waits for the page to go idle in its break-layouts path. ' +
      'Actors panel: truncator sleeps (S) with xfs_break_dax_layouts or ext4_break_layouts on its stack. Locks panel: on xfs it keeps the I/O lock (i_rwsem) ' +
      'while the mmap lock (invalidate_lock) is dropped around the sleep, so the sleep cannot deadlock against a fault.',
  },
  {
    label: 'holder: munmap the file',
    actor: 'holder',
    do: { op: 'munmap' },
    holdMs: 1000,
    watch: { panel: 'actors', row: 'truncator' },
    say:
      'Unmapping removes the page table reference only: the pipe still holds its own. The truncator stays asleep and the page stays above idle.',
  },
  {
    label: 'holder: drain the pipe',
    actor: 'holder',
    do: { op: 'drain' },
    holdMs: 500,
    watch: { panel: 'pages', row: 'victim#0' },
    say:
      'Reading the pipe releases its page reference: the refcount drops back to idle, and the put path must wake the truncator. ' +
      'A put path that missed that transition never woke it ("mm: fix missing wake-up event for FSDAX pages", <20220704074054.32310-1-songmuchun@bytedance.com>): ' +
      'the lab checks that the truncator finishes within 1 s of the page going idle.',
  },
];

export const vmspliceVsTruncate: Experiment = {
  id: 'vmsplice-vs-truncate',
  title: 'A pipe holds a DAX page; truncate must wait until it is drained',
  threads: [
    '"[PATCH 0/4] dax: fix dma vs truncate" <20171026105850.GA31161@quack2.suse.cz>',
    '"mm: fix missing wake-up event for FSDAX pages" <20220704074054.32310-1-songmuchun@bytedance.com>',
  ],
  summary:
    'vmsplice() parks a reference to a DAX page in a pipe; truncate(2) then sleeps in break-layouts until the pipe is drained. Shows the refcount rise, the blocked truncator and its stack, and the wake-up when the page goes idle.',
  needs: 'xfs or ext4 with -o dax',
  actors: ['holder', 'truncator'],
  trace: { cmd: 'trace', events: ['fs_dax', 'filelock', 'lock/contention_begin', 'lock/contention_end'], kprobes: ['gup', 'layouts', 'pipe'] },
  steps: vmspliceSteps,
  interventions: [
    { id: 'drain', key: 'd', label: 'drain the pipe', actor: 'holder' },
    { id: 'kill-truncator', key: 'K', label: 'kill truncator', actor: 'truncator' },
  ],
  interventionOps: {
    drain: { actor: 'holder', op: { op: 'drain' } },
    'kill-truncator': { actor: 'truncator', op: { op: 'kill' } },
  },
  expectations: [
    {
      id: 'vmsplice-ref',
      step: 3,
      description: 'vmsplice leaves victim#0 one reference above idle, no pin',
      check(state, times) {
        const end = times[3]?.end;
        const p = page(state, 'victim#0');
        if (end == null || !p || (state.snapshot?.t ?? 0) < end) return { status: 'pending' };
        const h = state.refHistory['victim#0'];
        const after = h?.samples.find((s) => s.t >= end);
        if (!after) return { status: 'pending' };
        const ok = after.aboveIdle === 1 && after.pins === 0;
        return { status: ok ? 'held' : 'violated', detail: `ref ${after.ref}, +${after.aboveIdle} above idle, ${after.pins} pins`, evidence: refEvidence(state, 'victim#0') };
      },
    },
    {
      id: 'truncate-blocks',
      step: 4,
      description: 'truncator blocked in a break-layouts function within 2 s',
      check(state, times) {
        const start = times[4]?.start;
        if (start == null) return { status: 'pending' };
        const frame = blockedIn(state, 'truncator', BREAK_LAYOUTS);
        const since = (state.lastT ?? start) - start;
        const h = state.actors.truncator?.history.find((tr) => tr.t >= start && tr.stack.some((f) => BREAK_LAYOUTS.test(f)));
        if (h) return { status: 'held', detail: `in ${h.stack.find((f) => BREAK_LAYOUTS.test(f))} after ${fmtMs((h.t - start) * 1000)}`, evidence: stackEvidence(state, 'truncator') };
        if (frame) return { status: 'held', detail: `in ${frame}`, evidence: stackEvidence(state, 'truncator') };
        const act = actionOf(state, 'truncator', 'truncate', start);
        if (act?.end != null) return { status: 'violated', detail: `truncate returned ${act.error ?? act.ret} without waiting`, evidence: refEvidence(state, 'victim#0') };
        if (since > 2) return { status: 'violated', detail: `not blocked in break-layouts after ${since.toFixed(1)} s`, evidence: stackEvidence(state, 'truncator') };
        return { status: 'pending' };
      },
    },
    {
      id: 'munmap-keeps-ref',
      step: 5,
      description: 'after munmap the pipe still holds the page: truncator still blocked 1 s later',
      check(state, times) {
        const t = times[5];
        if (t?.end == null) return { status: 'pending' };
        if ((state.lastT ?? 0) < t.end + 1) {
          const act = actionOf(state, 'truncator', 'truncate', times[4]?.start ?? null);
          if (act?.end != null && act.end < t.end + 1)
            return { status: 'violated', detail: `truncate finished ${fmtMs((act.end - t.end) * 1000)} after munmap`, evidence: refEvidence(state, 'victim#0') };
          return { status: 'pending' };
        }
        const act = actionOf(state, 'truncator', 'truncate', times[4]?.start ?? null);
        if (act?.end != null && act.end < t.end + 1)
          return { status: 'violated', detail: `truncate finished ${fmtMs((act.end - t.end) * 1000)} after munmap`, evidence: refEvidence(state, 'victim#0') };
        return { status: 'held', detail: 'still blocked 1 s after munmap', evidence: stackEvidence(state, 'truncator') };
      },
    },
    {
      id: 'wakeup-after-idle',
      step: 6,
      description: 'truncator finishes within 1 s after victim#0 returns to its idle refcount',
      check(state, times) {
        const start = times[4]?.start ?? null;
        const act = actionOf(state, 'truncator', 'truncate', start);
        const h = state.refHistory['victim#0'];
        const drained = times[6]?.start;
        if (drained == null || !h) return { status: 'pending' };
        // The page went idle at the first sample at idle after the drain began.
        const idle = h.samples.find((s) => s.t >= drained && s.aboveIdle <= 0);
        if (act?.end != null) {
          const after = idle ? act.end - idle.t : act.end - drained;
          const ok = after <= 1;
          return {
            status: act.error ? 'violated' : ok ? 'held' : 'violated',
            detail: `truncate ${act.error ?? 'returned'} ${fmtMs(Math.max(0, after) * 1000)} after the page went idle`,
            evidence: [...refEvidence(state, 'victim#0')],
          };
        }
        if (idle && (state.lastT ?? 0) - idle.t > 1)
          return {
            status: 'violated',
            detail: `page idle since ${idle.t.toFixed(2)} s, truncator still waiting ${fmtMs(((state.lastT ?? 0) - idle.t) * 1000)} later: missing wake-up?`,
            evidence: [...refEvidence(state, 'victim#0'), ...stackEvidence(state, 'truncator')],
          };
        return { status: 'pending' };
      },
    },
  ],
};

// ---------------------------------------------------------------------------------------

const leaseSteps: ExperimentStep[] = [
  {
    label: 'holder: create leased (64 KiB)',
    actor: 'holder',
    do: { op: 'open', path: 'leased', create: true, size: 64 * 1024 },
    say: 'The holder creates a small file on the DAX mount and keeps the only open file descriptor: a write lease needs that.',
  },
  {
    label: 'holder: mmap MAP_SHARED_VALIDATE | MAP_SYNC, fault page 0',
    actor: 'holder',
    do: { op: 'mmap', length: 64 * 1024, flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] },
    say: 'MAP_SYNC (accepted only on DAX files) is what mainline kept of the MAP_DIRECT idea: the flag value the proposal used, 0x80000, is MAP_SYNC today.',
  },
  {
    label: 'holder: write-fault page 0, watch it',
    actor: 'holder',
    do: { op: 'touch', pages: [0], write: true },
    watchPages: { pages: [0], label: 'leased' },
    watch: { panel: 'pages', row: 'leased#0' },
    say: 'The page is mapped; watching it also watches its file, so the Leases panel follows /proc/locks for it.',
  },
  {
    label: 'holder: take a write lease (F_SETSIG SIGRTMIN+1)',
    actor: 'holder',
    do: { op: 'lease', type: 'write', signal: 'SIGRTMIN+1' },
    watch: { panel: 'leases', row: 'leased' },
    say:
      'MAP_DIRECT emulated: a mapping backed by a lease that breaks when someone changes the file layout. Leases panel: an ACTIVE WRITE lease held by the holder. ' +
      '("[PATCH v7 06/12] xfs: wire up MAP_DIRECT", <CAPcyv4i6WBxfVJ0yqWbuW2kiJ-wpi+iYRPk=Kykqt3U5Rrw7MA@mail.gmail.com>)',
  },
  {
    label: 'breaker: truncate leased to 0',
    actor: 'breaker',
    do: { op: 'truncate', path: 'leased', size: 0 },
    async: true,
    holdMs: 1000,
    watch: { panel: 'leases', row: 'leased' },
    say:
      'truncate(2) breaks the lease: the holder gets SIGRTMIN+1 at once, /proc/locks shows the lease BREAKING and the breaker waits in __break_lease. ' +
      'Leases panel: the countdown to fs.lease-break-time starts. A cooperative holder would munmap and release now (press u); this one is stubborn.',
  },
  {
    label: 'holder: stay stubborn until the kernel times the lease out',
    actor: 'holder',
    do: { op: 'sleep', ms: 100 },
    holdMs: 500,
    watch: { panel: 'actors', row: 'breaker' },
    say:
      'Nothing releases the lease. When the countdown reaches zero the kernel removes the lease by force (time_out_leases) and the truncate goes on; ' +
      'under the proposal the holder\'s mapping would now SIGBUS on access.',
  },
];

export const leaseBreak: Experiment = {
  id: 'lease-break',
  title: 'A write lease on a MAP_SYNC mapping breaks on truncate (MAP_DIRECT emulated)',
  threads: ['"[PATCH v7 06/12] xfs: wire up MAP_DIRECT" <CAPcyv4i6WBxfVJ0yqWbuW2kiJ-wpi+iYRPk=Kykqt3U5Rrw7MA@mail.gmail.com>'],
  summary:
    'A lease holder with a MAP_SYNC mapping against a truncating breaker: the lease signal, /proc/locks BREAKING, the lease-break-time countdown, and the kernel timing a stubborn holder out.',
  needs: 'xfs or ext4 with -o dax; fs.lease-break-time (the default profile sets 5 s)',
  actors: ['holder', 'breaker'],
  trace: { cmd: 'trace', events: ['filelock'], kprobes: [] },
  steps: leaseSteps,
  interventions: [{ id: 'release', key: 'u', label: 'release the lease', actor: 'holder' }],
  interventionOps: { release: { actor: 'holder', op: { op: 'lease', type: 'unlock' } } },
  expectations: [
    {
      id: 'lease-signal',
      step: 4,
      description: 'the holder gets the lease signal within 1 s of the truncate',
      check(state, times) {
        const start = times[4]?.start;
        if (start == null) return { status: 'pending' };
        const sig = state.signals.find((s) => s.actor === 'holder' && s.t >= start);
        if (sig) return { status: sig.t - start <= 1 ? 'held' : 'violated', detail: `${sig.signal} after ${fmtMs((sig.t - start) * 1000)}` };
        return (state.lastT ?? start) - start > 1 ? { status: 'violated', detail: 'no signal within 1 s' } : { status: 'pending' };
      },
    },
    {
      id: 'breaker-waits',
      step: 4,
      description: 'the breaker waits in __break_lease while the lease is breaking',
      check(state, times) {
        const start = times[4]?.start;
        if (start == null) return { status: 'pending' };
        const tr = state.actors.breaker?.history.find((h) => h.t >= start && h.stack.some((f) => f.includes('break_lease')));
        if (tr) return { status: 'held', detail: `${tr.state} in ${tr.wchan}`, evidence: stackEvidence(state, 'breaker') };
        const act = actionOf(state, 'breaker', 'truncate', start);
        if (act?.end != null && !state.actors.breaker?.history.some((h) => h.t >= start && h.state !== 'R'))
          return { status: 'violated', detail: `truncate returned ${act.error ?? act.ret} without waiting` };
        return (state.lastT ?? start) - start > 2 ? { status: 'violated', detail: 'not seen waiting in __break_lease', evidence: stackEvidence(state, 'breaker') } : { status: 'pending' };
      },
    },
    {
      id: 'lease-times-out',
      step: 5,
      description: 'the truncate finishes once the lease is released or timed out (fs.lease-break-time + 1.5 s at most)',
      check(state, times) {
        const start = times[4]?.start;
        if (start == null) return { status: 'pending' };
        const act = actionOf(state, 'breaker', 'truncate', start);
        const limit = 5 + 1.5;
        if (act?.end != null) return { status: act.error ? 'violated' : 'held', detail: `truncate ${act.error ?? 'returned'} after ${fmtMs((act.end - start) * 1000)}` };
        return (state.lastT ?? start) - start > limit + 5 ? { status: 'violated', detail: `still waiting after ${((state.lastT ?? start) - start).toFixed(1)} s` } : { status: 'pending' };
      },
    },
  ],
};

export const experiments: Experiment[] = [vmspliceVsTruncate, leaseBreak];

/** The scenario picker's view of an experiment (no functions). */
export function experimentInfo(e: Experiment): ScenarioInfo {
  return {
    id: e.id,
    title: e.title,
    threads: e.threads,
    summary: e.summary,
    ...(e.needs ? { needs: e.needs } : {}),
    steps: e.steps.map(({ label, actor, say, watch }) => ({ label, actor, ...(say ? { say } : {}), ...(watch ? { watch } : {}) })),
    interventions: e.interventions as Intervention[],
  };
}

/** Evaluate every expectation over a state; a decided verdict is kept by the caller. */
export function evaluate(e: Experiment, state: LabState, times: readonly StepTimes[]) {
  return e.expectations.map((x) => ({ x, v: x.check(state, times) }));
}
