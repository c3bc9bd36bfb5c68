// What the screens show, derived from LabState by pure functions: rows for each panel,
// the refcount sparkline, the lease-break countdown, the merged event log, and what
// changed between two states (Guided mode points at it). No React, no I/O, no clocks:
// "now" is the guest time of the latest message (state.lastT), live or replayed alike.
import type { ActorExitMessage, EventMessage, SignalMessage } from '../wire/protocol.js';
import type { ActionRecord, ActorView, LabState, PageHistory } from '../lab/state.js';
import { taskBlocked } from '../lab/timeline.js';
import { bySlices, fastPaths } from './perf.js';

// ---------------------------------------------------------------------------------------
// Formatting.

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Guest time (seconds since the guest booted), as every panel shows it. */
export const fmtT = (t: number) => `${t.toFixed(2)}s`;

export function clip(text: string, width: number): string {
  if (width <= 0) return '';
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

export const pad = (text: string, width: number) => clip(text, width).padEnd(width);
export const padL = (text: string, width: number) => clip(text, width).padStart(width);

const BARS = '▁▂▃▄▅▆▇█';

/**
 * A sparkline of `values` in `width` cells. Longer series are bucketed by their maximum
 * (a one-sample spike stays visible); a flat series is a flat line at the bottom.
 */
export function sparkline(values: readonly number[], width: number): string {
  if (values.length === 0 || width <= 0) return '';
  let cells: number[];
  if (values.length <= width) cells = [...values];
  else {
    cells = [];
    for (let i = 0; i < width; i++) {
      const from = Math.floor((i * values.length) / width);
      const to = Math.max(from + 1, Math.floor(((i + 1) * values.length) / width));
      let m = -Infinity;
      for (let j = from; j < to; j++) m = Math.max(m, values[j]!);
      cells.push(m);
    }
  }
  const lo = Math.min(...cells);
  const hi = Math.max(...cells);
  return cells.map((v) => (hi === lo ? BARS[0] : BARS[Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))])).join('');
}

// ---------------------------------------------------------------------------------------
// Pages.

export type PageRow = {
  key: string;
  file: string;
  index: number;
  pfn: string;
  ref: number;
  idle: number;
  aboveIdle: number;
  pins: number;
  mapcount: number;
  flags: string[];
  entry: string;
  lruBatch: boolean;
  /** The page left the latest snapshot (unwatched, unmapped): its last known values. */
  stale: boolean;
  history: PageHistory | undefined;
  error?: string;
};

/** Every watched page, the latest snapshot's first (memoised: the same state slices, the same rows; do not mutate). */
export const pageRows = bySlices((s: LabState) => [s.pages, s.refHistory], pageRowsOf);

function pageRowsOf(state: LabState): PageRow[] {
  const rows: PageRow[] = Object.values(state.pages).map((p) => ({
    key: p.key,
    file: p.file,
    index: p.index,
    pfn: p.pfn,
    ref: p.ref,
    idle: p.idle,
    aboveIdle: p.aboveIdle,
    pins: p.pins,
    mapcount: p.mapcount,
    flags: p.flags,
    entry: p.entry,
    lruBatch: p.lruBatch ?? false,
    stale: false,
    history: state.refHistory[p.key],
    ...(p.error ? { error: p.error } : {}),
  }));
  // A page that left the snapshot stays listed with its last sample: a pinned page
  // stays interesting after munmap.
  for (const h of Object.values(state.refHistory)) {
    if (state.pages[h.key]) continue;
    const last = h.samples[h.samples.length - 1];
    if (!last) continue;
    const [file, index] = h.key.split('#');
    rows.push({
      key: h.key,
      file: file ?? h.key,
      index: Number(index),
      pfn: '',
      ref: last.ref,
      idle: h.idle,
      aboveIdle: last.aboveIdle,
      pins: last.pins,
      mapcount: 0,
      flags: [],
      entry: '',
      lruBatch: false,
      stale: true,
      history: h,
    });
  }
  return rows;
}

const seriesOf = new WeakMap<PageHistory, number[]>();
/** A page's refcount samples, oldest first (memoised per history: do not mutate). */
export const refSeries = (h: PageHistory | undefined): number[] => {
  if (!h) return [];
  if (!fastPaths.memoViews) return h.samples.map((s) => s.ref);
  let series = seriesOf.get(h);
  if (!series) seriesOf.set(h, (series = h.samples.map((s) => s.ref)));
  return series;
};

/** "pins 4 acquired, 4 released (lagging: vm.stat_interval)" from the vmstat deltas. */
export function pinCounters(state: LabState): { acquired: number | null; released: number | null } {
  const d = state.vmstat.delta;
  return { acquired: d.nr_foll_pin_acquired ?? null, released: d.nr_foll_pin_released ?? null };
}

// ---------------------------------------------------------------------------------------
// Locks.

export type LockRow = { key: string; file: string; lock: string; state: string; owner: string; waiters: string; forMs: number; busy: boolean; error?: string };

export const lockRows = bySlices((s: LabState) => [s.locks, s.lastT], lockRowsOf);

function lockRowsOf(state: LabState): LockRow[] {
  const now = state.lastT ?? 0;
  return Object.values(state.locks).map((l) => {
    const stateText = l.state === 'read' ? `read ×${l.readers}` : l.state;
    return {
      key: l.key,
      file: l.file,
      lock: l.lock,
      state: stateText + (l.handoff ? ' handoff' : ''),
      owner: l.owner ? `${l.owner.comm}(${l.owner.pid})` : '',
      waiters: l.waiters.map((w) => `${w.comm}(${w.pid}) ${w.type[0]}`).join(', '),
      forMs: Math.max(0, (now - l.since) * 1000),
      busy: l.state !== 'free' || l.waiters.length > 0,
      ...(l.error ? { error: l.error } : {}),
    };
  });
}

// ---------------------------------------------------------------------------------------
// Actors.

const TASK_STATES: Record<string, string> = {
  R: 'running',
  S: 'sleeping',
  D: 'uninterruptible',
  T: 'stopped',
  t: 'traced',
  Z: 'zombie',
  X: 'dead',
  I: 'idle',
  gone: 'gone',
};

export const describeTaskState = (s: string) => TASK_STATES[s] ?? s;

export type ActorRow = {
  name: string;
  pid: number | null;
  state: string;
  stateText: string;
  wchan: string;
  /** Blocked in the kernel on something other than waiting for the lab's next command. */
  blocked: boolean;
  blockedMs: number;
  stack: readonly string[];
  lastAction: string;
  lastActionBad: boolean;
  signal: string;
  exit: string;
};

export function describeAction(a: ActionRecord | null, now: number): { text: string; bad: boolean } {
  if (!a) return { text: '', bad: false };
  if (a.end === null) return { text: `${a.op} … running ${fmtMs(a.start === null ? 0 : (now - a.start) * 1000)}`, bad: false };
  if (a.signal) return { text: `${a.op} → ${a.signal}`, bad: true };
  if (a.error) return { text: `${a.op} → ${a.error}${a.ret !== undefined ? ` (${a.ret})` : ''}`, bad: true };
  return { text: `${a.op} → ${a.ret ?? 'ok'}${a.ms !== undefined ? ` in ${fmtMs(a.ms)}` : ''}`, bad: false };
}

export function actorRow(a: ActorView, now: number): ActorRow {
  const task = a.task;
  const state = task?.state ?? (a.exit ? 'exited' : a.history.length ? 'gone' : '?');
  const known = task !== null && state in TASK_STATES;
  const blocked = !!task && taskBlocked(task.state, task.wchan);
  const action = describeAction(a.lastAction, now);
  return {
    name: a.name,
    pid: task?.pid ?? a.exit?.pid ?? null,
    state,
    // "S sleeping", "R running"; an actor no longer sampled is just "exited" or "gone".
    stateText: known ? describeTaskState(state) : '',
    wchan: task?.wchan ?? '',
    blocked,
    blockedMs: blocked ? (task?.blockedMs ?? 0) : 0,
    stack: task?.stack ?? [],
    lastAction: action.text,
    lastActionBad: action.bad,
    signal: a.lastSignal ? `${a.lastSignal.signal}${a.signalCount > 1 ? ` ×${a.signalCount}` : ''}` : '',
    exit: a.exit ? (a.exit.signal ? `killed by ${a.exit.signal}` : `exited ${a.exit.status ?? ''}`.trim()) : '',
  };
}

export const actorRows = bySlices((s: LabState) => [s.actors, s.lastT], actorRowsOf);

function actorRowsOf(state: LabState): ActorRow[] {
  const now = state.lastT ?? 0;
  return Object.values(state.actors).map((a) => actorRow(a, now));
}

// ---------------------------------------------------------------------------------------
// Leases.

export type LeaseRow = { file: string; type: string; mode: string; state: string; pid: number; breaking: boolean; leftMs: number | null; raw: string };

/** The countdown runs on from the snapshot that reported it, by the guest time of later messages. */
export const leaseRows = bySlices((s: LabState) => [s.leases, s.snapshot, s.lastT], leaseRowsOf);

function leaseRowsOf(state: LabState): LeaseRow[] {
  const since = state.snapshot && state.lastT !== null ? Math.max(0, state.lastT - state.snapshot.t) * 1000 : 0;
  return state.leases.map((l) => ({
    file: l.file,
    type: l.type,
    mode: l.mode,
    state: l.state,
    pid: l.pid,
    breaking: /BREAK/.test(l.state),
    leftMs: l.breakLeftMs === null ? null : Math.max(0, l.breakLeftMs - since),
    raw: l.raw,
  }));
}

// ---------------------------------------------------------------------------------------
// The event log: actions, signals, exits and tracepoint events merged in time order.

export type LogKind = 'action' | 'signal' | 'exit' | string;

export type LogItem = { t: number; kind: LogKind; text: string; bad?: boolean; comm?: string };

/** The agent's own task: its reads of /proc/locks contend on file_rwsem, for one. */
export const AGENT_COMM = 'daxlab-agent';

function eventText(e: EventMessage): string {
  const fields = Object.entries(e.fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${e.name}${e.comm ? ` [${e.comm}${e.pid !== undefined ? ` ${e.pid}` : ''}]` : ''}${e.lock ? ` on ${e.lock}` : ''}${fields ? ` ${fields}` : ''}`;
}

/** The log, oldest first (memoised: the same lists, the same items; do not mutate). */
export const logItems = bySlices((s: LabState) => [s.actions, s.signals, s.exits, s.events, s.protocolErrors], (s) => (fastPaths.memoViews ? logItemsCached(s) : logItemsOf(s)));

/** Each record's log lines, made once in its lifetime (records are never changed, only replaced). */
const itemsOf = new WeakMap<object, LogItem[]>();
function cached(record: object, make: () => LogItem[]): LogItem[] {
  let items = itemsOf.get(record);
  if (!items) itemsOf.set(record, (items = make()));
  return items;
}

/** logItemsOf, with each record's lines from the cache. */
function logItemsCached(state: LabState): LogItem[] {
  const items: LogItem[] = [];
  for (const a of state.actions)
    for (const it of cached(a, () => {
      const out: LogItem[] = [];
      if (a.start !== null) out.push({ t: a.start, kind: 'action', text: `${a.actor}: ${a.op} started` });
      if (a.end !== null) {
        const d = describeAction(a, a.end);
        out.push({ t: a.end, kind: 'action', text: `${a.actor}: ${d.text}`, bad: d.bad });
      }
      return out;
    }))
      items.push(it);
  for (const s of state.signals as readonly SignalMessage[])
    items.push(cached(s, () => [{ t: s.t, kind: 'signal', text: `${s.actor} (${s.pid}) got ${s.signal}${s.fd !== undefined ? ` on fd ${s.fd}` : ''}`, bad: true }])[0]!);
  for (const x of state.exits as readonly ActorExitMessage[])
    items.push(cached(x, () => [{ t: x.t, kind: 'exit', text: `${x.actor} (${x.pid}) ${x.signal ? `killed by ${x.signal}` : `exited ${x.status ?? ''}`}` }])[0]!);
  for (const e of state.events) items.push(cached(e, () => [{ t: e.t, kind: e.src, text: eventText(e), ...(e.comm ? { comm: e.comm } : {}) }])[0]!);
  for (const p of state.protocolErrors) items.push(cached(p, () => [{ t: p.t, kind: 'protocol', text: p.message, bad: true }])[0]!);
  // Array.prototype.sort is stable: equal times keep the order above, as in logItemsOf.
  return items.sort((x, y) => x.t - y.t);
}

function logItemsOf(state: LabState): LogItem[] {
  const items: LogItem[] = [];
  for (const a of state.actions) {
    if (a.start !== null) items.push({ t: a.start, kind: 'action', text: `${a.actor}: ${a.op} started` });
    if (a.end !== null) {
      const d = describeAction(a, a.end);
      items.push({ t: a.end, kind: 'action', text: `${a.actor}: ${d.text}`, bad: d.bad });
    }
  }
  for (const s of state.signals as readonly SignalMessage[])
    items.push({ t: s.t, kind: 'signal', text: `${s.actor} (${s.pid}) got ${s.signal}${s.fd !== undefined ? ` on fd ${s.fd}` : ''}`, bad: true });
  for (const x of state.exits as readonly ActorExitMessage[])
    items.push({ t: x.t, kind: 'exit', text: `${x.actor} (${x.pid}) ${x.signal ? `killed by ${x.signal}` : `exited ${x.status ?? ''}`}` });
  for (const e of state.events) items.push({ t: e.t, kind: e.src, text: eventText(e), ...(e.comm ? { comm: e.comm } : {}) });
  for (const p of state.protocolErrors) items.push({ t: p.t, kind: 'protocol', text: p.message, bad: true });
  // Stable by time; equal times keep the order above (actions before the events they caused).
  return items.map((it, i) => [it, i] as const).sort((x, y) => x[0].t - y[0].t || x[1] - y[1]).map(([it]) => it);
}

/** The kinds the log can be filtered by, with their counts (over every item seen, evicted ones included). */
export function logKinds(state: LabState): Array<{ kind: LogKind; count: number }> {
  const bySrc = new Map<string, number>();
  for (const [key, n] of Object.entries(state.eventCounts)) {
    const src = key.slice(0, key.indexOf(':'));
    bySrc.set(src, (bySrc.get(src) ?? 0) + n);
  }
  const kinds: Array<{ kind: LogKind; count: number }> = [
    { kind: 'action', count: state.actions.length + state.evictedActions },
    { kind: 'signal', count: state.signals.length + state.evictedSignals },
    { kind: 'exit', count: state.exits.length + state.evictedExits },
  ];
  for (const [kind, count] of [...bySrc].sort()) kinds.push({ kind, count });
  if (state.protocolErrorCount) kinds.push({ kind: 'protocol', count: state.protocolErrorCount });
  return kinds;
}

export function filterLog(items: readonly LogItem[], kind: LogKind | null, text: string, hideAgent = false): LogItem[] {
  const needle = text.toLowerCase();
  return items.filter(
    (it) =>
      (kind === null || it.kind === kind) &&
      (!hideAgent || it.comm !== AGENT_COMM) &&
      (!needle || it.text.toLowerCase().includes(needle) || it.kind.includes(needle)),
  );
}

// ---------------------------------------------------------------------------------------
// Nothing goes silently: what the agent dropped, what the reducer evicted.

/** "32 snapshots (32 of them during its own commands: trace 13, refwatch 19)". */
export function droppedSnapshotsText(dropped: LabState['dropped']): string {
  const text = `${dropped.snapshots} snapshots`;
  const inCommands = Object.entries(dropped.inCommands ?? {}).filter(([, n]) => n > 0);
  if (!inCommands.length) return text;
  const sum = inCommands.reduce((n, [, k]) => n + k, 0);
  const which = inCommands.map(([cmd, n]) => `${cmd} ${n}`).join(', ');
  return `${text} (${sum === dropped.snapshots ? 'all' : sum} of them during its own commands: ${which})`;
}

export function lossSummary(state: LabState): string[] {
  const out: string[] = [];
  if (state.dropped.events) out.push(`agent dropped ${state.dropped.events} events`);
  if (state.dropped.snapshots) out.push(`agent dropped ${droppedSnapshotsText(state.dropped)}`);
  if (state.missedSnapshots) out.push(`${state.missedSnapshots} snapshots missed (seq gaps)`);
  const ev: Array<[string, number]> = [
    ['events', state.evictedEvents],
    ['actions', state.evictedActions],
    ['signals', state.evictedSignals],
    ['exits', state.evictedExits],
    ['commands', state.evictedCommands],
    ['protocol errors', state.evictedProtocolErrors],
  ];
  const samples = Object.values(state.refHistory).reduce((n, h) => n + h.evictedSamples, 0);
  if (samples) ev.push(['refcount samples', samples]);
  const evicted = ev.filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`);
  if (evicted.length) out.push(`kept the newest only, evicted ${evicted.join(', ')}`);
  if (state.protocolErrorCount) out.push(`${state.protocolErrorCount} protocol errors`);
  return out;
}

// ---------------------------------------------------------------------------------------
// What changed between two states: Guided mode points the user at it.

export type PanelId = 'pages' | 'locks' | 'actors' | 'leases' | 'events' | 'expectations';

export type Change = { panel: PanelId; row: string; text: string };

export function changesBetween(before: LabState, after: LabState): Change[] {
  const out: Change[] = [];
  for (const [key, p] of Object.entries(after.pages)) {
    const old = before.pages[key];
    if (!old) out.push({ panel: 'pages', row: key, text: `${key} now watched: refcount ${p.ref} (idle ${p.idle})` });
    else if (old.ref !== p.ref || old.pins !== p.pins) {
      const d = p.ref - old.ref;
      out.push({
        panel: 'pages',
        row: key,
        text: `${key} refcount ${old.ref} → ${p.ref} (${d > 0 ? '+' : ''}${d}; ${p.aboveIdle <= 0 ? 'back to idle' : `${p.aboveIdle} above idle`}${p.pins ? `, ${p.pins} pin${p.pins > 1 ? 's' : ''}` : ''})`,
      });
    }
  }
  for (const [key, l] of Object.entries(after.locks)) {
    const old = before.locks[key];
    const desc = (x: typeof l) => `${x.state}${x.owner ? ` by ${x.owner.comm}` : ''}${x.waiters.length ? `, ${x.waiters.length} waiting` : ''}`;
    if (old && desc(old) !== desc(l)) out.push({ panel: 'locks', row: key, text: `${l.lock} of ${l.file}: ${desc(old)} → ${desc(l)}` });
  }
  const now = after.lastT ?? 0;
  // An actor waiting for the lab's next command is "idle"; a blocked one is named by where it sleeps.
  const where = (a: ActorView | undefined) => {
    if (!a) return 'not started';
    if (!a.task) return a.exit ? 'exited' : 'gone';
    const row = actorRow(a, now);
    return row.blocked ? `${a.task.state} in ${a.task.wchan}` : a.task.state === 'S' ? 'idle' : describeTaskState(a.task.state);
  };
  for (const [name, a] of Object.entries(after.actors)) {
    const old = before.actors[name];
    const was = where(old);
    const is = where(a);
    if (was !== is && (was !== 'not started' || is !== 'idle')) out.push({ panel: 'actors', row: name, text: `${name}: ${was} → ${is}` });
    if (a.lastAction && a.lastAction !== old?.lastAction && a.lastAction.end !== null) {
      const d = describeAction(a.lastAction, now);
      if (d.bad) out.push({ panel: 'actors', row: name, text: `${name}: ${d.text}` });
    }
  }
  const leaseKey = (l: LabState['leases'][number]) => `${l.file} ${l.pid} ${l.state}`;
  const oldLeases = new Set(before.leases.map(leaseKey));
  for (const l of after.leases) if (!oldLeases.has(leaseKey(l))) out.push({ panel: 'leases', row: l.file, text: `lease on ${l.file} (pid ${l.pid}): ${l.state}` });
  if (after.signals.length > before.signals.length || after.evictedSignals > before.evictedSignals) {
    const s = after.signals[after.signals.length - 1]!;
    out.push({ panel: 'events', row: 'signal', text: `${s.actor} got ${s.signal}` });
  }
  return out;
}
