// Evidence pieces the checks quote (a task, a page and its refcount history, an action)
// and the context every finding carries besides its own evidence.
import type { ActionRecord, LabState, PageView, RefSample } from '../state.js';
import { r3 } from './common.js';

export function taskEvidence(state: LabState, actor: string) {
  const a = state.actors[actor];
  if (!a) return { actor, seen: false };
  return {
    actor,
    pid: a.task?.pid ?? null,
    state: a.task?.state ?? (a.exit ? 'exited' : 'gone'),
    wchan: a.task?.wchan ?? '',
    blockedMs: a.task?.blockedMs ?? 0,
    stack: a.task?.stack ?? [],
    stateSince: a.stateSince,
  };
}

export function pageEvidence(state: LabState, key: string) {
  const p = state.pages[key];
  const h = state.refHistory[key];
  return {
    page: key,
    now: p ? pick(p) : null,
    idle: h?.idle ?? p?.idle ?? null,
    idleSince: h?.idleSince ?? null,
    peakAboveIdle: h?.peakAboveIdle ?? null,
    /** Every sample where ref, aboveIdle or pins moved (guest t). */
    history: (h?.changes ?? []).map((s: RefSample) => ({ t: r3(s.t), ref: s.ref, aboveIdle: s.aboveIdle, pins: s.pins })),
  };
}

export function pick(p: PageView) {
  return { t: r3(p.t), pfn: p.pfn, ref: p.ref, aboveIdle: p.aboveIdle, pins: p.pins, mapcount: p.mapcount, lruBatch: p.lruBatch ?? false, entry: p.entry };
}

export function actionEvidence(a: ActionRecord | null) {
  if (!a) return null;
  return { id: a.id, actor: a.actor, op: a.op, start: a.start, end: a.end, ret: a.ret, error: a.error, signal: a.signal, ms: a.ms, result: a.result };
}

/** What a finding shows besides its own evidence: every actor, watched page, lock, lease and recent events. */
export function contextEvidence(state: LabState, actors: readonly string[], since: number) {
  const relevant = /^(fs_dax|filelock|daxlab|lock)$/;
  return {
    at: state.lastT,
    actors: actors.map((a) => taskEvidence(state, a)),
    pages: Object.keys(state.refHistory).map((k) => pageEvidence(state, k)),
    locks: Object.values(state.locks).map((l) => ({
      lock: l.key,
      state: l.state,
      owner: l.owner,
      readers: l.readers,
      waiters: l.waiters,
      since: r3(l.since),
    })),
    leases: state.leases,
    /** The run's actions with their guest times (the last 30). */
    actions: state.actions.slice(-30).map((a) => ({ id: a.id, actor: a.actor, op: a.op, start: a.start, end: a.end, ret: a.ret, error: a.error, signal: a.signal, ms: a.ms })),
    /** fs_dax, filelock, lock contention and the lab's kprobes (the last 40 since the run began). */
    events: state.events.filter((e) => e.t >= since && relevant.test(e.src)).slice(-40),
  };
}
