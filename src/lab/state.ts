// LabState and the pure reducer: every message the run produced, folded into what the
// screens render and what the verdict engine weighs as evidence.
//
// reduce(state, message) -> state has no I/O, no clocks and no randomness; it never
// mutates its inputs (the previous state or the message) and the same message sequence
// always folds into deep-equal states, live or replayed from a transcript.
//
// Time: every `t` is on the guest's monotonic clock (seconds), as the agent stamps its
// messages. Host-side notes carry the `t` of the latest agent message the host had seen
// when the note was made (0 before the first one), so one clock orders everything.
// Values the agent derives (aboveIdle, pins, blockedMs) are kept as sent, never
// recomputed here. Every bounded list counts what it evicted: nothing goes silently.
import type {
  ActionMessage,
  ActorExitMessage,
  ActorState,
  AgentMessage,
  EventMessage,
  HostCommand,
  LeaseState,
  LockState,
  PageState,
  ReadyMessage,
  ReplyMessage,
  SignalMessage,
  SnapshotMessage,
  HostMessage,
  RunEndNote,
  RunStartNote,
} from '../wire/protocol.js';

// ---------------------------------------------------------------------------------------
// The state.

export type Limits = {
  /** Refcount samples kept per page (one per snapshot): the sparkline. */
  refSamples: number;
  /** Refcount changes kept per page (only samples where ref, aboveIdle or pins moved). */
  refChanges: number;
  events: number;
  actions: number;
  signals: number;
  exits: number;
  protocolErrors: number;
  commands: number;
  /** State transitions kept per actor. */
  actorHistory: number;
  /** State transitions kept per lock. */
  lockTransitions: number;
  /** A protocol error's line is kept up to this many characters (the transcript has all of it). */
  protocolErrorLine: number;
};

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  refSamples: 600,
  refChanges: 200,
  events: 2000,
  actions: 500,
  signals: 200,
  exits: 100,
  protocolErrors: 100,
  commands: 200,
  actorHistory: 100,
  lockTransitions: 200,
  protocolErrorLine: 1000,
});

export type RunInfo = Omit<RunStartNote, 'kind'> & { end: Omit<RunEndNote, 'kind'> | null };

export type KernelInfo = Omit<ReadyMessage, 'kind'>;

/** `${file}#${index}`, e.g. "victim#0". */
export type PageKey = string;
/** `${file}:${lock}`, e.g. "victim:invalidate_lock". */
export type LockKey = string;

export const pageKey = (p: { file: string; index: number }): PageKey => `${p.file}#${p.index}`;
export const lockKey = (l: { file: string; lock: string }): LockKey => `${l.file}:${l.lock}`;

export type PageView = PageState & { key: PageKey; t: number };

export type RefSample = { t: number; ref: number; aboveIdle: number; pins: number };

export type PageHistory = {
  key: PageKey;
  /** The idle refcount the agent reported last (1 before v6.15, 0 from v6.15 for fsdax). */
  idle: number;
  firstSeen: number;
  lastSeen: number;
  /** One sample per snapshot that carried the page, oldest first. */
  samples: readonly RefSample[];
  evictedSamples: number;
  /** Samples where ref, aboveIdle or pins differed from the page's previous sample (the first sample counts). */
  changes: readonly RefSample[];
  evictedChanges: number;
  peakAboveIdle: number;
  peakPins: number;
  /** Since when aboveIdle has been <= 0 (the page at its idle refcount), or null while referenced. */
  idleSince: number | null;
};

export type LockTransition = {
  t: number;
  state: LockState['state'];
  readers: number;
  owner: LockState['owner'];
  waiters: LockState['waiters'];
  handoff: boolean;
  error?: string;
};

export type LockView = LockState & {
  key: LockKey;
  t: number;
  /** When the lock entered its current state (state, readers, owner, waiters, handoff). */
  since: number;
};

export type LockHistory = { key: LockKey; transitions: readonly LockTransition[]; evictedTransitions: number };

/** An actor's action, start and end merged by the command id. */
export type ActionRecord = {
  id: number;
  actor: string;
  op: string;
  /** null when the start was never seen (evicted, or the run began mid-action). */
  start: number | null;
  /** null while the action runs. */
  end: number | null;
  ret?: number;
  errno?: number;
  error?: string;
  signal?: string;
  ms?: number;
  result?: Record<string, unknown>;
};

export type ActorTransition = {
  t: number;
  /** The task state letter as sampled (R, S, D, ...), or "gone" when the actor left the snapshot. */
  state: string;
  wchan: string;
  stack: readonly string[];
};

export type ActorView = {
  name: string;
  /** The task as the latest snapshot shows it; null when that snapshot did not carry it. */
  task: ActorState | null;
  /** When the actor entered its current state (state letter + wchan), on the guest clock. */
  stateSince: number | null;
  /** Transitions only (state letter or wchan changed), oldest first. */
  history: readonly ActorTransition[];
  evictedHistory: number;
  /** The latest action the actor started (or ended, if its start was never seen). */
  lastAction: ActionRecord | null;
  actionCount: number;
  lastSignal: SignalMessage | null;
  signalCount: number;
  exit: ActorExitMessage | null;
};

export type CommandRecord = {
  id: number;
  /** Null when the reply came for a command the state never saw sent. */
  t: number | null;
  command: HostCommand | null;
  reply: { t: number; ok: true; result: unknown } | { t: number; ok: false; error: Extract<ReplyMessage, { ok: false }>['error'] } | null;
};

export type ContentionCount = {
  /** Events that named this lock. */
  count: number;
  /** Per event name, e.g. { contention_begin: 3, contention_end: 3 }. */
  byName: Readonly<Record<string, number>>;
  lastT: number;
};

export type VmstatView = {
  /** Each counter's first value seen (normally the first snapshot's). */
  baseline: Readonly<Record<string, number>>;
  latest: Readonly<Record<string, number>>;
  /** latest - baseline per counter; these lag (per-CPU folding): never compare them instantly. */
  delta: Readonly<Record<string, number>>;
};

export type ProtocolErrorRecord = { t: number; message: string; line: string; lineLength: number };

export type LabState = {
  limits: Readonly<Limits>;
  run: RunInfo | null;
  kernel: KernelInfo | null;
  /** Latest `t` seen on any message (the max, so a late line never moves time back); null before any. */
  lastT: number | null;
  messageCount: number;

  /** The latest snapshot's header. */
  snapshot: { seq: number; t: number; costUs?: number } | null;
  snapshotCount: number;
  /** Snapshots the host never saw, from gaps in seq. */
  missedSnapshots: number;
  /** The agent's own drop counters, as the latest snapshot sent them. */
  dropped: SnapshotMessage['dropped'];

  /** The pages of the latest snapshot, in its order. */
  pages: Readonly<Record<PageKey, PageView>>;
  /** Every page ever seen (kept after it leaves the snapshot: a pinned page stays interesting). */
  refHistory: Readonly<Record<PageKey, PageHistory>>;
  /** The locks of the latest snapshot. */
  locks: Readonly<Record<LockKey, LockView>>;
  lockHistory: Readonly<Record<LockKey, LockHistory>>;
  /** Every actor seen in a snapshot, action, signal or exit. */
  actors: Readonly<Record<string, ActorView>>;
  leases: readonly LeaseState[];
  vmstat: VmstatView;

  actions: readonly ActionRecord[];
  evictedActions: number;
  signals: readonly SignalMessage[];
  evictedSignals: number;
  exits: readonly ActorExitMessage[];
  evictedExits: number;

  events: readonly EventMessage[];
  evictedEvents: number;
  eventCount: number;
  /** By `${src}:${name}`, over every event (evicted ones included). */
  eventCounts: Readonly<Record<string, number>>;
  /** By the watched lock an event named (its `lock` field). */
  contention: Readonly<Record<string, ContentionCount>>;

  commands: readonly CommandRecord[];
  evictedCommands: number;

  protocolErrors: readonly ProtocolErrorRecord[];
  evictedProtocolErrors: number;
  protocolErrorCount: number;
};

export function initialState(limits: Partial<Limits> = {}): LabState {
  return {
    limits: Object.freeze({ ...DEFAULT_LIMITS, ...limits }),
    run: null,
    kernel: null,
    lastT: null,
    messageCount: 0,
    snapshot: null,
    snapshotCount: 0,
    missedSnapshots: 0,
    dropped: { events: 0, snapshots: 0 },
    pages: {},
    refHistory: {},
    locks: {},
    lockHistory: {},
    actors: {},
    leases: [],
    vmstat: { baseline: {}, latest: {}, delta: {} },
    actions: [],
    evictedActions: 0,
    signals: [],
    evictedSignals: 0,
    exits: [],
    evictedExits: 0,
    events: [],
    evictedEvents: 0,
    eventCount: 0,
    eventCounts: {},
    contention: {},
    commands: [],
    evictedCommands: 0,
    protocolErrors: [],
    evictedProtocolErrors: 0,
    protocolErrorCount: 0,
  };
}

// ---------------------------------------------------------------------------------------
// Helpers (all return new values).

/** Append to a bounded list: the new list and how many items fell off its front. */
function append<T>(items: readonly T[], item: T, cap: number): [readonly T[], number] {
  const max = Math.max(0, cap);
  if (items.length + 1 <= max) return [[...items, item], 0];
  const keep = items.slice(items.length + 1 - max);
  return [max > 0 ? [...keep, item] : [], items.length + 1 - max];
}

/** Replace the last item matching `match` (searching from the end); null when none matches. */
function replaceLast<T>(items: readonly T[], match: (item: T) => boolean, update: (item: T) => T): readonly T[] | null {
  for (let i = items.length - 1; i >= 0; i--) {
    if (match(items[i]!)) {
      const next = items.slice();
      next[i] = update(items[i]!);
      return next;
    }
  }
  return null;
}

function emptyActor(name: string): ActorView {
  return {
    name,
    task: null,
    stateSince: null,
    history: [],
    evictedHistory: 0,
    lastAction: null,
    actionCount: 0,
    lastSignal: null,
    signalCount: 0,
    exit: null,
  };
}

function updateActor(actors: LabState['actors'], name: string, update: (a: ActorView) => ActorView): LabState['actors'] {
  return { ...actors, [name]: update(actors[name] ?? emptyActor(name)) };
}

function sameWaiters(a: LockState['waiters'], b: LockState['waiters']): boolean {
  return a.length === b.length && a.every((w, i) => w.pid === b[i]!.pid && w.type === b[i]!.type);
}

/** Whether a lock is still in the state its last transition recorded. */
function sameLock(a: LockTransition, b: LockState): boolean {
  return (
    a.state === b.state &&
    a.readers === b.readers &&
    (a.owner?.pid ?? null) === (b.owner?.pid ?? null) &&
    a.handoff === b.handoff &&
    a.error === b.error &&
    sameWaiters(a.waiters, b.waiters)
  );
}

function lockTransition(t: number, l: LockState): LockTransition {
  const tr: LockTransition = { t, state: l.state, readers: l.readers, owner: l.owner, waiters: l.waiters, handoff: l.handoff };
  if (l.error !== undefined) tr.error = l.error;
  return tr;
}

// ---------------------------------------------------------------------------------------
// The reducer.

export function reduce(state: LabState, message: HostMessage): LabState {
  const lastT = state.lastT === null ? message.t : Math.max(state.lastT, message.t);
  const s: LabState = { ...state, lastT, messageCount: state.messageCount + 1 };
  switch (message.kind) {
    case 'ready': {
      const { kind: _kind, ...kernel } = message;
      return { ...s, kernel };
    }
    case 'reply':
      return onReply(s, message);
    case 'action':
      return onAction(s, message);
    case 'signal': {
      const [signals, evicted] = append(s.signals, message, s.limits.signals);
      return {
        ...s,
        signals,
        evictedSignals: s.evictedSignals + evicted,
        actors: updateActor(s.actors, message.actor, (a) => ({ ...a, lastSignal: message, signalCount: a.signalCount + 1 })),
      };
    }
    case 'actor-exit': {
      const [exits, evicted] = append(s.exits, message, s.limits.exits);
      return {
        ...s,
        exits,
        evictedExits: s.evictedExits + evicted,
        actors: updateActor(s.actors, message.actor, (a) => ({ ...a, exit: message })),
      };
    }
    case 'snapshot':
      return onSnapshot(s, message);
    case 'event':
      return onEvent(s, message);
    case 'protocol-error': {
      const record: ProtocolErrorRecord = {
        t: message.t,
        message: message.message,
        line: message.line.length > s.limits.protocolErrorLine ? message.line.slice(0, s.limits.protocolErrorLine) : message.line,
        lineLength: message.line.length,
      };
      const [protocolErrors, evicted] = append(s.protocolErrors, record, s.limits.protocolErrors);
      return {
        ...s,
        protocolErrors,
        evictedProtocolErrors: s.evictedProtocolErrors + evicted,
        protocolErrorCount: s.protocolErrorCount + 1,
      };
    }
    case 'run-start': {
      const { kind: _kind, ...run } = message;
      return { ...s, run: { ...run, end: null } };
    }
    case 'run-end': {
      const { kind: _kind, ...end } = message;
      // A run-end without a run-start still says the run ended.
      const run: RunInfo = s.run ?? { t: message.t, runId: '', profile: '', end: null };
      return { ...s, run: { ...run, end } };
    }
    case 'command': {
      const record: CommandRecord = { id: message.id, t: message.t, command: message.command, reply: null };
      const [commands, evicted] = append(s.commands, record, s.limits.commands);
      return { ...s, commands, evictedCommands: s.evictedCommands + evicted };
    }
    default: {
      const never: never = message;
      void never;
      return s;
    }
  }
}

/** Fold a message sequence (a transcript's, or a test's) from the initial state. */
export function reduceAll(messages: Iterable<HostMessage>, state: LabState = initialState()): LabState {
  for (const m of messages) state = reduce(state, m);
  return state;
}

function onReply(s: LabState, m: ReplyMessage): LabState {
  const reply: CommandRecord['reply'] = m.ok ? { t: m.t, ok: true, result: m.result } : { t: m.t, ok: false, error: m.error };
  const replaced = replaceLast(
    s.commands,
    (c) => c.id === m.id && c.reply === null,
    (c) => ({ ...c, reply }),
  );
  if (replaced) return { ...s, commands: replaced };
  const [commands, evicted] = append(s.commands, { id: m.id, t: null, command: null, reply }, s.limits.commands);
  return { ...s, commands, evictedCommands: s.evictedCommands + evicted };
}

function endFields(m: ActionMessage): Partial<ActionRecord> {
  const out: Partial<ActionRecord> = {};
  if (m.ret !== undefined) out.ret = m.ret;
  if (m.errno !== undefined) out.errno = m.errno;
  if (m.error !== undefined) out.error = m.error;
  if (m.signal !== undefined) out.signal = m.signal;
  if (m.ms !== undefined) out.ms = m.ms;
  if (m.result !== undefined) out.result = m.result;
  return out;
}

function onAction(s: LabState, m: ActionMessage): LabState {
  const same = (r: ActionRecord) => r.id === m.id && r.actor === m.actor;
  if (m.phase === 'start') {
    const record: ActionRecord = { id: m.id, actor: m.actor, op: m.op, start: m.t, end: null };
    const [actions, evicted] = append(s.actions, record, s.limits.actions);
    return {
      ...s,
      actions,
      evictedActions: s.evictedActions + evicted,
      actors: updateActor(s.actors, m.actor, (a) => ({ ...a, lastAction: record, actionCount: a.actionCount + 1 })),
    };
  }
  // phase "end": merge into its start when it is still in the list.
  let index = -1;
  for (let i = s.actions.length - 1; i >= 0; i--) {
    const r = s.actions[i]!;
    if (same(r) && r.end === null) {
      index = i;
      break;
    }
  }
  let record: ActionRecord;
  let actions: readonly ActionRecord[];
  let evictedActions = s.evictedActions;
  const startSeen = index >= 0;
  if (startSeen) {
    record = { ...s.actions[index]!, end: m.t, ...endFields(m) };
    const next = s.actions.slice();
    next[index] = record;
    actions = next;
  } else {
    record = { id: m.id, actor: m.actor, op: m.op, start: null, end: m.t, ...endFields(m) };
    const [next, evicted] = append(s.actions, record, s.limits.actions);
    actions = next;
    evictedActions += evicted;
  }
  return {
    ...s,
    actions,
    evictedActions,
    actors: updateActor(s.actors, m.actor, (a) => {
      if (!startSeen) return { ...a, lastAction: record, actionCount: a.actionCount + 1 };
      // An end updates the actor's last action only when it is that action's end.
      return a.lastAction !== null && same(a.lastAction) ? { ...a, lastAction: record } : a;
    }),
  };
}

function onEvent(s: LabState, m: EventMessage): LabState {
  const [events, evicted] = append(s.events, m, s.limits.events);
  const key = `${m.src}:${m.name}`;
  let contention = s.contention;
  if (m.lock !== undefined) {
    const prev = contention[m.lock] ?? { count: 0, byName: {}, lastT: m.t };
    contention = {
      ...contention,
      [m.lock]: { count: prev.count + 1, byName: { ...prev.byName, [m.name]: (prev.byName[m.name] ?? 0) + 1 }, lastT: m.t },
    };
  }
  return {
    ...s,
    events,
    evictedEvents: s.evictedEvents + evicted,
    eventCount: s.eventCount + 1,
    eventCounts: { ...s.eventCounts, [key]: (s.eventCounts[key] ?? 0) + 1 },
    contention,
  };
}

function onSnapshot(s: LabState, m: SnapshotMessage): LabState {
  const t = m.t;
  const L = s.limits;

  // Pages and their refcount history.
  const pages: Record<PageKey, PageView> = {};
  const refHistory: Record<PageKey, PageHistory> = { ...s.refHistory };
  for (const p of m.pages) {
    const key = pageKey(p);
    pages[key] = { ...p, key, t };
    const sample: RefSample = { t, ref: p.ref, aboveIdle: p.aboveIdle, pins: p.pins };
    const h = refHistory[key];
    const last = h?.samples[h.samples.length - 1];
    const [samples, evictedS] = append(h?.samples ?? [], sample, L.refSamples);
    const changed = !last || last.ref !== p.ref || last.aboveIdle !== p.aboveIdle || last.pins !== p.pins;
    const [changes, evictedC] = changed ? append(h?.changes ?? [], sample, L.refChanges) : [h!.changes, 0];
    const atIdle = p.aboveIdle <= 0;
    refHistory[key] = {
      key,
      idle: p.idle,
      firstSeen: h?.firstSeen ?? t,
      lastSeen: t,
      samples,
      evictedSamples: (h?.evictedSamples ?? 0) + evictedS,
      changes,
      evictedChanges: (h?.evictedChanges ?? 0) + evictedC,
      peakAboveIdle: Math.max(h?.peakAboveIdle ?? p.aboveIdle, p.aboveIdle),
      peakPins: Math.max(h?.peakPins ?? p.pins, p.pins),
      idleSince: atIdle ? (h?.idleSince ?? t) : null,
    };
  }

  // Locks: the latest states, and transitions only in their history.
  const locks: Record<LockKey, LockView> = {};
  const lockHistory: Record<LockKey, LockHistory> = { ...s.lockHistory };
  for (const l of m.locks) {
    const key = lockKey(l);
    const h = lockHistory[key];
    const last = h?.transitions[h.transitions.length - 1];
    if (!last || !sameLock(last, l)) {
      const [transitions, evicted] = append(h?.transitions ?? [], lockTransition(t, l), L.lockTransitions);
      lockHistory[key] = { key, transitions, evictedTransitions: (h?.evictedTransitions ?? 0) + evicted };
      locks[key] = { ...l, key, t, since: t };
    } else locks[key] = { ...l, key, t, since: last.t };
  }

  // Actors: the task as sampled, and transitions of state letter or wchan.
  let actors: Record<string, ActorView> = { ...s.actors };
  const seen = new Set<string>();
  for (const task of m.actors) {
    seen.add(task.name);
    const a = actors[task.name] ?? emptyActor(task.name);
    const last = a.history[a.history.length - 1];
    const changed = !last || last.state !== task.state || last.wchan !== task.wchan;
    if (changed) {
      const [history, evicted] = append(a.history, { t, state: task.state, wchan: task.wchan, stack: task.stack }, L.actorHistory);
      actors[task.name] = { ...a, task, stateSince: t, history, evictedHistory: a.evictedHistory + evicted };
    } else actors[task.name] = { ...a, task };
  }
  for (const [name, a] of Object.entries(s.actors)) {
    if (seen.has(name) || a.task === null) continue;
    const [history, evicted] = append(a.history, { t, state: 'gone', wchan: '', stack: [] }, L.actorHistory);
    actors = { ...actors, [name]: { ...a, task: null, stateSince: t, history, evictedHistory: a.evictedHistory + evicted } };
  }

  // vmstat: each counter's first value is its baseline.
  const baseline: Record<string, number> = { ...s.vmstat.baseline };
  const delta: Record<string, number> = {};
  for (const [k, v] of Object.entries(m.vmstat)) {
    if (!(k in baseline)) baseline[k] = v;
    delta[k] = v - baseline[k]!;
  }

  const prevSeq = s.snapshot?.seq;
  const gap = prevSeq !== undefined && m.seq > prevSeq + 1 ? m.seq - prevSeq - 1 : 0;
  const header: LabState['snapshot'] = { seq: m.seq, t };
  if (m.costUs !== undefined) header.costUs = m.costUs;

  return {
    ...s,
    snapshot: header,
    snapshotCount: s.snapshotCount + 1,
    missedSnapshots: s.missedSnapshots + gap,
    dropped: m.dropped,
    pages,
    refHistory,
    locks,
    lockHistory,
    actors,
    leases: m.leases,
    vmstat: { baseline, latest: m.vmstat, delta },
  };
}
