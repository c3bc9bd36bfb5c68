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
//
// The state's shape (types, limits, the empty state) is stateShape.ts, re-exported here.
import type {
  ActionMessage,
  EventMessage,
  HostMessage,
  LockState,
  ReplyMessage,
  SnapshotMessage,
} from '../wire/protocol.js';
import {
  initialState,
  lockKey,
  pageKey,
  type ActionRecord,
  type ActorView,
  type CommandRecord,
  type ContentionCount,
  type LabState,
  type LockHistory,
  type LockKey,
  type LockTransition,
  type LockView,
  type PageHistory,
  type PageKey,
  type PageView,
  type ProtocolErrorRecord,
  type RefSample,
  type RunInfo,
} from './stateShape.js';

export * from './stateShape.js';

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
    case 'heartbeat':
      // The host's liveness watch reads the channel itself; here a beat only moves the guest clock.
      return s;
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

/**
 * reduceAll in batches: a run of consecutive events is folded with one copy of the event
 * list and of its counters instead of one per event (a flood of 10,000 events a second,
 * folded once per frame). Deep-equal to reduceAll over the same messages; pure like it.
 */
export function reduceMany(state: LabState, messages: readonly HostMessage[]): LabState {
  let s = state;
  for (let i = 0; i < messages.length; ) {
    let j = i;
    while (j < messages.length && messages[j]!.kind === 'event') j++;
    if (j - i > 1) {
      s = onEvents(s, messages.slice(i, j) as EventMessage[]);
      i = j;
    } else {
      s = reduce(s, messages[i]!);
      i++;
    }
  }
  return s;
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

/** Several events in a row, as onEvent folds them one by one (the new arrays are ours until returned). */
function onEvents(state: LabState, ms: readonly EventMessage[]): LabState {
  let lastT = state.lastT;
  for (const m of ms) lastT = lastT === null ? m.t : Math.max(lastT, m.t);
  const cap = Math.max(0, state.limits.events);
  const total = state.events.length + ms.length;
  const keep = Math.min(cap, total);
  const events: EventMessage[] = [];
  for (let k = total - keep; k < total; k++) events.push(k < state.events.length ? state.events[k]! : ms[k - state.events.length]!);
  const eventCounts: Record<string, number> = { ...state.eventCounts };
  let contention = state.contention;
  let ownContention: Record<string, ContentionCount> | null = null;
  for (const m of ms) {
    const key = `${m.src}:${m.name}`;
    eventCounts[key] = (eventCounts[key] ?? 0) + 1;
    if (m.lock !== undefined) {
      ownContention ??= { ...contention };
      contention = ownContention;
      const prev = ownContention[m.lock] ?? { count: 0, byName: {}, lastT: m.t };
      ownContention[m.lock] = { count: prev.count + 1, byName: { ...prev.byName, [m.name]: (prev.byName[m.name] ?? 0) + 1 }, lastT: m.t };
    }
  }
  return {
    ...state,
    lastT,
    messageCount: state.messageCount + ms.length,
    events,
    evictedEvents: state.evictedEvents + (total - keep),
    eventCount: state.eventCount + ms.length,
    eventCounts,
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
