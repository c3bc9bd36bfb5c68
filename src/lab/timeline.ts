// The run over guest time: one lane per actor (waiting for the lab, running, blocked in
// a kernel function, gone; its actions as spans), per watched page (refcount above idle,
// pins) and per watched lock (owner, waiters), with the scenario's steps, the verdicts
// and the kernel's events as instants. A pure function of the reducer's state (and of
// the run's record when there is one): the dashboard's timeline, the report's and the
// Perfetto export all read this one model.
import type { ActorTransition, LabState } from './state.js';

/** The agent's idle loop: an actor waiting for its next command, not blocked in the kernel on anything of ours. */
const IDLE_WCHAN = /skb_wait_for_more_packets|unix_.*recvmsg|do_select|poll_schedule|ep_poll|pipe_read|futex/;

/** Whether a sampled task sleeps in the kernel on something other than the lab's next command. */
export function taskBlocked(state: string, wchan: string): boolean {
  return state === 'D' || (state === 'S' && !IDLE_WCHAN.test(wchan));
}

export type ActorSpanKind = 'idle' | 'running' | 'blocked' | 'gone';

export type ActorSpan = { start: number; end: number; kind: ActorSpanKind; state: string; wchan: string; stack: readonly string[] };
export type ActionSpan = { id: number; start: number; end: number | null; op: string; text: string; bad: boolean };
export type ActorLane = { name: string; pid: number | null; spans: ActorSpan[]; actions: ActionSpan[]; exit: { t: number; text: string } | null; evicted: number };

export type PageSpan = { start: number; end: number; ref: number; aboveIdle: number; pins: number };
export type PageLane = { key: string; idle: number; spans: PageSpan[]; evicted: number };

export type LockSpan = { start: number; end: number; state: string; owner: string | null; waiters: string[] };
export type LockLane = { key: string; spans: LockSpan[]; evicted: number };

/** A step of the scenario: when it began and ended on the guest clock (null: not placed). */
export type TimelineStep = { step: number; id: string; label: string; start: number | null; end: number | null; inferred: boolean };

/** A verdict at the guest time it was reached (a finding when violated). */
export type TimelineVerdict = { id: string; status: string; finding: boolean; t: number | null; text: string };

export type Instant = { t: number; kind: 'event' | 'signal' | 'exit'; name: string; text: string; actor: string | null; pid: number | null };

export type Timeline = {
  /** The guest time span the lanes cover. */
  start: number;
  end: number;
  actors: ActorLane[];
  pages: PageLane[];
  locks: LockLane[];
  steps: TimelineStep[];
  verdicts: TimelineVerdict[];
  instants: Instant[];
};

export type TimelineInput = { steps?: readonly TimelineStep[]; verdicts?: readonly TimelineVerdict[] };

const spanKind = (tr: ActorTransition): ActorSpanKind =>
  tr.state === 'gone' || tr.state === 'Z' || tr.state === 'X' ? 'gone' : taskBlocked(tr.state, tr.wchan) ? 'blocked' : tr.state === 'S' ? 'idle' : 'running';

function actionText(a: LabState['actions'][number]): { text: string; bad: boolean } {
  if (a.end === null) return { text: `${a.op} (still running)`, bad: false };
  if (a.signal) return { text: `${a.op} -> ${a.signal}`, bad: true };
  if (a.error) return { text: `${a.op} -> ${a.error}${a.ret !== undefined ? ` (${a.ret})` : ''}`, bad: true };
  return { text: `${a.op} -> ${a.ret ?? 'ok'}`, bad: false };
}

/** The timeline of a run as the state holds it; `input` adds the steps and verdicts of its record. */
export function buildTimeline(state: LabState, input: TimelineInput = {}): Timeline {
  const end0 = state.lastT ?? 0;
  const exits = new Map(state.exits.map((x) => [x.actor, x]));
  const actors: ActorLane[] = Object.values(state.actors).map((a) => {
    const exit = exits.get(a.name) ?? a.exit;
    const stop = exit ? exit.t : end0;
    const spans: ActorSpan[] = a.history.map((tr, i) => {
      const next = a.history[i + 1];
      return { start: tr.t, end: Math.max(tr.t, next ? next.t : Math.max(stop, tr.t)), kind: spanKind(tr), state: tr.state, wchan: tr.wchan, stack: tr.stack };
    });
    const actions = state.actions
      .filter((x) => x.actor === a.name && (x.start !== null || x.end !== null))
      .map((x): ActionSpan => ({ id: x.id, start: (x.start ?? x.end)!, end: x.end, op: x.op, ...actionText(x) }));
    return {
      name: a.name,
      pid: a.task?.pid ?? exit?.pid ?? null,
      spans,
      actions,
      exit: exit ? { t: exit.t, text: exit.signal ? `killed by ${exit.signal}` : `exited ${exit.status ?? ''}`.trim() } : null,
      evicted: a.evictedHistory,
    };
  });
  const pages: PageLane[] = Object.values(state.refHistory).map((h) => ({
    key: h.key,
    idle: h.idle,
    spans: h.changes.map((c, i) => {
      const next = h.changes[i + 1];
      // The page is drawn while snapshots carried it (a page left after munmap or unwatch).
      const last = state.pages[h.key] ? end0 : h.lastSeen;
      return { start: c.t, end: Math.max(c.t, next ? next.t : last), ref: c.ref, aboveIdle: c.aboveIdle, pins: c.pins };
    }),
    evicted: h.evictedChanges,
  }));
  const locks: LockLane[] = Object.values(state.lockHistory).map((h) => ({
    key: h.key,
    spans: h.transitions.map((tr, i) => {
      const next = h.transitions[i + 1];
      return {
        start: tr.t,
        end: Math.max(tr.t, next ? next.t : end0),
        state: tr.error ? `unreadable: ${tr.error}` : tr.state === 'read' ? `read x${tr.readers}` : tr.state,
        owner: tr.owner ? tr.owner.comm : null,
        waiters: tr.waiters.map((w) => `${w.comm}(${w.type[0]})`),
      };
    }),
    evicted: h.evictedTransitions,
  }));
  const byPid = new Map(actors.filter((a) => a.pid !== null).map((a) => [a.pid!, a.name]));
  const instants: Instant[] = [
    ...state.events.map((e): Instant => {
      const fields = Object.entries(e.fields).map(([k, v]) => `${k}=${v}`).join(' ');
      const actor = (e.pid !== undefined ? byPid.get(e.pid) : undefined) ?? (e.comm && state.actors[e.comm] ? e.comm : null);
      return { t: e.t, kind: 'event', name: e.name, text: `${e.name}${e.lock ? ` on ${e.lock}` : ''}${fields ? ` ${fields}` : ''}`, actor, pid: e.pid ?? null };
    }),
    ...state.signals.map((s): Instant => ({ t: s.t, kind: 'signal', name: s.signal, text: `${s.actor} got ${s.signal}`, actor: s.actor, pid: s.pid })),
    ...state.exits.map((x): Instant => ({ t: x.t, kind: 'exit', name: 'exit', text: `${x.actor} ${x.signal ? `killed by ${x.signal}` : `exited ${x.status ?? ''}`}`.trim(), actor: x.actor, pid: x.pid })),
  ].sort((a, b) => a.t - b.t);

  const steps = [...(input.steps ?? [])];
  const verdicts = [...(input.verdicts ?? [])];
  // The lanes start where the scenario does (its actors, pages, steps), not at boot.
  const starts = [
    ...actors.flatMap((a) => [a.spans[0]?.start, a.actions[0]?.start]),
    ...pages.map((p) => p.spans[0]?.start),
    ...locks.map((l) => l.spans[0]?.start),
    ...steps.map((s) => s.start),
  ].filter((t): t is number => typeof t === 'number');
  // ...and end where it does: a run idles on (clean-up, power-off) after its actors are gone.
  const alive = actors.some((a) => a.spans.length && !a.exit);
  const ends = [
    ...(alive || !actors.length ? [end0] : []),
    ...verdicts.map((v) => v.t),
    ...steps.flatMap((s) => [s.start, s.end]),
    ...actors.flatMap((a) => [a.exit?.t, ...a.actions.map((x) => x.end), ...a.spans.map((x) => x.start)]),
    ...pages.flatMap((p) => p.spans.map((x) => x.start)),
    ...locks.flatMap((l) => l.spans.map((x) => x.start)),
  ].filter((t): t is number => typeof t === 'number');
  const start = starts.length ? Math.min(...starts) : end0;
  return { start, end: Math.max(start, ...ends), actors, pages, locks, steps, verdicts, instants };
}

/** A scenario step as far as its timing goes: its action (actor and op) or the signal it sends. */
export type StepShape = { id: string; label: string; actor?: string | undefined; op?: string | undefined; kill?: { actor: string; signal: string } | undefined };

/**
 * Steps placed from the commands the engine sent, for a record without step times (a
 * trimmed report): a step's start is its action's command (or its signal's), its end
 * that action's end. A step that only checks has no command of its own: it stays unplaced.
 */
export function inferStepTimes(steps: readonly StepShape[], state: LabState): TimelineStep[] {
  let cursor = 0;
  const cmds = state.commands;
  return steps.map((s, i) => {
    const found = cmds.findIndex((c, k) => {
      if (k < cursor || !c.command || c.t === null) return false;
      const cmd = c.command as { cmd: string; actor?: string; op?: string; signal?: string };
      if (s.op) return cmd.cmd === 'act' && cmd.actor === s.actor && cmd.op === s.op;
      if (s.kill) return cmd.cmd === 'actor-kill' && cmd.actor === s.kill.actor && cmd.signal === s.kill.signal;
      return false;
    });
    if (found < 0) return { step: i + 1, id: s.id, label: s.label, start: null, end: null, inferred: true };
    cursor = found + 1;
    const c = cmds[found]!;
    const action = s.op ? state.actions.find((a) => a.id === c.id) : undefined;
    return { step: i + 1, id: s.id, label: s.label, start: c.t, end: action?.end ?? c.reply?.t ?? null, inferred: true };
  });
}

export type LaneState = { lane: string; kind: 'actor' | 'page' | 'lock'; text: string; since: number | null; hot: boolean; extra?: string };

const spanAt = <S extends { start: number; end: number }>(spans: readonly S[], t: number): S | undefined => {
  for (let i = spans.length - 1; i >= 0; i--) if (spans[i]!.start <= t && (t < spans[i]!.end || i === spans.length - 1) && t <= spans[i]!.end) return spans[i];
  return undefined;
};

/** Every lane's state at one instant: what the cursor shows. */
export function statesAt(tl: Timeline, t: number): LaneState[] {
  const out: LaneState[] = [];
  for (const a of tl.actors) {
    const s = spanAt(a.spans, t);
    const action = a.actions.find((x) => x.start <= t && (x.end === null || t < x.end));
    let text: string;
    let since: number | null = s?.start ?? null;
    if (a.exit && t >= a.exit.t) (text = a.exit.text), (since = a.exit.t);
    else if (!s) text = 'not seen';
    else if (s.kind === 'blocked') text = `blocked (${s.state}) in ${s.wchan}`;
    else if (s.kind === 'idle') text = 'waiting for the lab';
    else text = s.kind;
    const extra = action && !(a.exit && t >= a.exit.t) ? `in its ${action.op} since ${action.start.toFixed(2)}s` : undefined;
    out.push({ lane: a.name, kind: 'actor', text, since, hot: s?.kind === 'blocked', ...(extra ? { extra } : {}) });
  }
  for (const p of tl.pages) {
    const s = spanAt(p.spans, t);
    const text = !s ? 'not watched' : s.aboveIdle <= 0 ? `at idle (ref ${s.ref})` : `${s.aboveIdle} above idle (ref ${s.ref})${s.pins ? `, ${s.pins} pins` : ''}`;
    out.push({ lane: p.key, kind: 'page', text, since: s?.start ?? null, hot: !!s && s.aboveIdle > 0 });
  }
  for (const l of tl.locks) {
    const s = spanAt(l.spans, t);
    const text = !s ? 'not watched' : `${s.state}${s.owner ? ` by ${s.owner}` : ''}${s.waiters.length ? `, waiting: ${s.waiters.join(', ')}` : ''}`;
    out.push({ lane: l.key, kind: 'lock', text, since: s?.start ?? null, hot: !!s && s.waiters.length > 0 });
  }
  return out;
}

/** The instant worth a first look: the first finding, else the end of the run. */
export function focusTime(tl: Timeline): number {
  return tl.verdicts.find((v) => v.finding && v.t !== null)?.t ?? tl.end;
}

/** What the timeline reads of a run's record: the engine's report, or a trimmed one. */
export type RecordedRun = {
  steps?: ReadonlyArray<{ step: number; id: string; actor?: string; op?: string; status?: string; start: number | null; end: number | null }>;
  expectations: ReadonlyArray<{ id: string; status: string; description?: string; detail?: string; t?: number | null }>;
  findings?: ReadonlyArray<{ expectation: string; summary: string; evidence?: Record<string, unknown> }>;
};

/** A step of a scenario definition in the shape inferStepTimes reads. */
export function stepShape(s: { id?: string | undefined; actor?: string | undefined; do?: { op: string } | undefined; kill?: { actor: string; signal: string } | undefined }, i: number): StepShape {
  const id = s.id ?? `step${i + 1}`;
  const label = s.do ? `${s.actor ?? '?'}: ${s.do.op}` : s.kill ? `${s.kill.signal} to ${s.kill.actor}` : id;
  return { id, label, ...(s.do ? { actor: s.actor, op: s.do.op } : {}), ...(s.kill ? { kill: s.kill } : {}) };
}

/**
 * The steps and verdicts of a run's record (the engine's report). Step times come from
 * the record; a trimmed one without them has its steps placed from the commands
 * (`scenarioSteps`). A finding without a time of its own takes the guest time of its
 * evidence ("times.now"), else none.
 */
export function timelineInput(run: RecordedRun, state: LabState, scenarioSteps: readonly StepShape[] = []): TimelineInput {
  // Steps the record has (with their times) as it has them; the others placed by the commands.
  const inferred = inferStepTimes(scenarioSteps, state);
  const recorded = new Map(
    (run.steps ?? []).map((s): [number, TimelineStep] => [
      s.step,
      { step: s.step, id: s.id, label: scenarioSteps[s.step - 1]?.label ?? (s.op ? `${s.actor ?? '?'}: ${s.op}` : s.id), start: s.start, end: s.end, inferred: false },
    ]),
  );
  const steps: TimelineStep[] = [...inferred.map((s) => recorded.get(s.step) ?? s), ...[...recorded.values()].filter((s) => s.step > inferred.length)];
  const findings = new Map((run.findings ?? []).map((f) => [f.expectation, f]));
  const evidenceTime = (id: string): number | null => {
    const times = findings.get(id)?.evidence?.times as { now?: unknown } | undefined;
    return typeof times?.now === 'number' ? times.now : null;
  };
  const verdicts: TimelineVerdict[] = run.expectations.map((v) => {
    const finding = v.status === 'violated' || findings.has(v.id);
    return {
      id: v.id,
      status: v.status,
      finding,
      t: typeof v.t === 'number' ? v.t : evidenceTime(v.id),
      text: findings.get(v.id)?.summary ?? v.detail ?? v.description ?? v.id,
    };
  });
  return { steps, verdicts };
}
