// Expectations evaluated over the lab state: pure functions of (predicate, state, context).
// The engine calls evaluate() as the state grows until the outcome is no longer
// "pending"; replaying a transcript into the same state gives the same verdicts.
//
// Times are on the guest clock (seconds); durations in predicates are milliseconds.
import type { EventMessage, LeaseState } from '../wire/protocol.js';
import { GUP_PIN_COUNTING_BIAS, type Observability } from './era.js';
import { parseScenarioDuration, type DurationVars } from '../config/units.js';
import { conditionHolds, type ConditionContext, type Predicate } from './scenario.js';
import { lockKey, type ActionRecord, type LabState, type PageView, type RefSample } from './state.js';


export type Status = 'held' | 'violated' | 'not-applicable';

export type Outcome =
  | { status: 'pending' }
  | { status: Status; detail: string; evidence: Record<string, unknown> };

/** A value one faulting actor read, and what the shadow copy allowed there. */
export type DataCheck = {
  round: number;
  actor: string;
  via: 'mmap' | 'read';
  page: number;
  got: number;
  allowed: number[];
  ok: boolean;
};

export type EvalContext = {
  state: LabState;
  /** Guest time now (the latest message's t). */
  now: number;
  /** Guest time this check began. */
  start: number;
  /** Guest time its step began (before the step's action): signals and events count from here. */
  stepStart: number;
  /** When a step began. */
  stepBegan: (stepId: string) => number | null;
  /** The id of the step the check belongs to (for "returns" and "rose" defaults). */
  stepId: string;
  /** The action a step started (null: none, or the step has not run). */
  stepAction: (stepId: string) => ActionRecord | null;
  /** When a step's work ended: its action's return, or its signal's delivery. */
  stepEnd: (stepId: string) => number | null;
  /** The state sampled just before a step's action began. */
  before: (stepId: string) => LabState | undefined;
  /** The action the actor was running (or last ran) when this check began. */
  subject: (actor: string) => ActionRecord | null;
  vars: DurationVars;
  dataChecks: readonly DataCheck[];
  conditions: ConditionContext;
  /** Whether events named so can be seen on this kernel at all (the tracepoints and kprobes placed). */
  observability?: (name: string) => Observability;
};

const ms = (d: string | number, ctx: EvalContext) => parseScenarioDuration(d, ctx.vars);
const sec = (d: string | number, ctx: EvalContext) => ms(d, ctx) / 1000;
const r3 = (n: number) => Math.round(n * 1000) / 1000;
const blockedState = (s: string) => s === 'S' || s === 'D';

// ---------------------------------------------------------------------------------------
// Descriptions.

function durationText(d: string | number): string {
  return typeof d === 'number' ? `${d} ms` : d;
}

/** The expectation in words; `step` names the action a "returns" check without a step refers to. */
export function describe(p: Predicate, step?: { actor?: string; op?: string }): string {
  if (p.says) return p.says;
  switch (p.check) {
    case 'blocked':
      return `${p.actor} sleeps in /${p.in}/ within ${durationText(p.within)}`;
    case 'still-blocked':
      return `${p.actor} has not returned ${durationText(p.for)} later${p.in ? ` (still in /${p.in}/)` : ''}`;
    case 'finishes': {
      const ref =
        p.after === 'start'
          ? 'from now'
          : 'step' in p.after
            ? `after step ${p.after.step} ended`
            : 'stepStart' in p.after
              ? `after step ${p.after.stepStart} began`
              : `after ${p.after.pageIdle} is back at its idle refcount`;
      return `${p.actor} returns within ${durationText(p.within)} ${ref}${p.notBefore !== undefined ? `, not before ${durationText(p.notBefore)}` : ''}`;
    }
    case 'returns': {
      const what = p.errno ? `fails with ${[p.errno].flat().join(' or ')}` : p.signal ? `ends with ${p.signal}` : p.ok ? 'succeeds' : 'returns';
      const subject = p.step ? `the action of step ${p.step}` : step?.actor && step.op ? `${step.actor}'s ${step.op}` : 'the action';
      return `${subject} ${what}${p.ret !== undefined ? ` (ret ${p.ret})` : ''}${p.result ? ` with ${JSON.stringify(p.result)}` : ''}`;
    }
    case 'page': {
      const parts: string[] = [];
      if (p.rose) parts.push(`references rose by ${[p.rose.by].flat().join(' or ')}${p.rose.since ? ` since step ${p.rose.since}` : ''}`);
      if (p.pinsRose) parts.push(`pins rose by ${p.pinsRose.by}`);
      if (p.aboveIdle !== undefined) parts.push(`references above idle ${rangeText(p.aboveIdle)}`);
      if (p.pins !== undefined) parts.push(`pins ${rangeText(p.pins)}`);
      if (p.entry) parts.push(`DAX entry ${p.entry}`);
      return `${p.page}: ${parts.join(', ') || 'watched'}`;
    }
    case 'lock':
      return `${p.lock} is ${p.state}${p.owner ? ` (held by ${p.owner})` : ''}`;
    case 'lease':
      return p.state === 'absent' ? `no lease left on ${p.file}` : `a lease on ${p.file} is ${p.state}${p.within !== undefined ? ` within ${durationText(p.within)}` : ''}`;
    case 'signal':
      return `${p.actor} receives ${p.signal} within ${durationText(p.within)}`;
    case 'vmstat':
      return `${p.counter}${p.less ? ` less ${p.less}` : ''} rose by ${p.rose.by}`;
    case 'event':
      return `${p.seen ? 'an' : 'no'} event /${p.name}/${p.where ? ` with ${JSON.stringify(p.where)}` : ''} within ${durationText(p.within)}`;
    case 'no-data-mismatch':
      return 'every value read matches the shadow copy';
  }
}

function rangeText(r: number | { min?: number; max?: number }): string {
  if (typeof r === 'number') return `= ${r}`;
  if (r.min !== undefined && r.max !== undefined) return `in [${r.min}, ${r.max}]`;
  return r.min !== undefined ? `>= ${r.min}` : `<= ${r.max}`;
}

function inRange(v: number, r: number | { min?: number; max?: number }): boolean {
  if (typeof r === 'number') return v === r;
  return (r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max);
}

// ---------------------------------------------------------------------------------------
// Evidence pieces.

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

function pick(p: PageView) {
  return { t: r3(p.t), pfn: p.pfn, ref: p.ref, aboveIdle: p.aboveIdle, pins: p.pins, mapcount: p.mapcount, lruBatch: p.lruBatch ?? false, entry: p.entry };
}

function actionEvidence(a: ActionRecord | null) {
  if (!a) return null;
  return { id: a.id, actor: a.actor, op: a.op, start: a.start, end: a.end, ret: a.ret, error: a.error, signal: a.signal, ms: a.ms, result: a.result };
}

// ---------------------------------------------------------------------------------------
// The predicates.

export function evaluate(p: Predicate, ctx: EvalContext): Outcome {
  const cond = conditionHolds(p.when, ctx.conditions);
  if (!cond.holds) return { status: 'not-applicable', detail: cond.why, evidence: {} };
  switch (p.check) {
    case 'blocked':
      return blocked(p, ctx);
    case 'still-blocked':
      return stillBlocked(p, ctx);
    case 'finishes':
      return finishes(p, ctx);
    case 'returns':
      return returns(p, ctx);
    case 'page':
      return page(p, ctx);
    case 'lock':
      return lock(p, ctx);
    case 'lease':
      return lease(p, ctx);
    case 'signal':
      return signal(p, ctx);
    case 'vmstat':
      return vmstat(p, ctx);
    case 'event':
      return event(p, ctx);
    case 'no-data-mismatch':
      return noDataMismatch(ctx);
  }
}

function blocked(p: Extract<Predicate, { check: 'blocked' }>, ctx: EvalContext): Outcome {
  const { state, now } = ctx;
  const start = Math.min(ctx.start, ctx.stepStart);
  const re = new RegExp(p.in);
  const a = state.actors[p.actor];
  const matches = (st: string, stack: readonly string[]) => blockedState(st) && stack.some((f) => re.test(f));
  const hit = a?.history.find((h) => h.t >= start && matches(h.state, h.stack)) ?? (a?.task && matches(a.task.state, a.task.stack) ? { t: now, state: a.task.state, stack: a.task.stack, wchan: a.task.wchan } : null);
  const action = ctx.subject(p.actor);
  if (hit) {
    const frame = hit.stack.find((f) => re.test(f));
    return {
      status: 'held',
      detail: `${p.actor} was asleep (${hit.state}) in ${frame} ${Math.max(0, Math.round((hit.t - start) * 1000))} ms after the check began`,
      evidence: { task: taskEvidence(state, p.actor), seenAt: r3(hit.t), stackThen: hit.stack, action: actionEvidence(action) },
    };
  }
  const deadline = ctx.start + sec(p.within, ctx);
  if (action && action.end !== null) {
    return {
      status: 'violated',
      detail: `${p.actor}'s ${action.op} returned (${action.error ?? `ret ${action.ret}`}, ${action.ms} ms) without being seen asleep in /${p.in}/`,
      evidence: { task: taskEvidence(state, p.actor), action: actionEvidence(action), history: a?.history.filter((h) => h.t >= start) ?? [] },
    };
  }
  if (now < deadline) return { status: 'pending' };
  return {
    status: 'violated',
    detail: `${p.actor} was not seen asleep in /${p.in}/ within ${durationText(p.within)} (now ${a?.task?.state ?? '?'} in ${a?.task?.stack[0] ?? '?'})`,
    evidence: { task: taskEvidence(state, p.actor), action: actionEvidence(action), history: a?.history.filter((h) => h.t >= start) ?? [] },
  };
}

function stillBlocked(p: Extract<Predicate, { check: 'still-blocked' }>, ctx: EvalContext): Outcome {
  const { state, start, now } = ctx;
  const action = ctx.subject(p.actor);
  const forS = sec(p.for, ctx);
  if (!action) return { status: 'violated', detail: `${p.actor} is not running any action`, evidence: { task: taskEvidence(state, p.actor) } };
  if (action.end !== null) {
    return {
      status: 'violated',
      detail:
        action.end <= start
          ? `${p.actor}'s ${action.op} had already returned (${action.error ?? `ret ${action.ret}`}) ${Math.round((start - action.end) * 1000)} ms before this check`
          : `${p.actor}'s ${action.op} returned ${Math.round((action.end - start) * 1000)} ms into the ${durationText(p.for)} (${action.error ?? `ret ${action.ret}`})`,
      evidence: { task: taskEvidence(state, p.actor), action: actionEvidence(action) },
    };
  }
  if (now < start + forS) return { status: 'pending' };
  const task = state.actors[p.actor]?.task;
  const re = p.in ? new RegExp(p.in) : null;
  if (re && !(task && blockedState(task.state) && task.stack.some((f) => re.test(f)))) {
    return {
      status: 'violated',
      detail: `${p.actor} has not returned, but is no longer asleep in /${p.in}/ (${task?.state ?? '?'} in ${task?.stack[0] ?? '?'})`,
      evidence: { task: taskEvidence(state, p.actor), action: actionEvidence(action) },
    };
  }
  return {
    status: 'held',
    detail: `${p.actor}'s ${action.op} still had not returned after ${durationText(p.for)} (${task?.state ?? '?'} in ${task?.stack[0] ?? '?'}, blocked ${task?.blockedMs ?? 0} ms)`,
    evidence: { task: taskEvidence(state, p.actor), action: actionEvidence(action) },
  };
}

function finishes(p: Extract<Predicate, { check: 'finishes' }>, ctx: EvalContext): Outcome {
  const { state, start, now } = ctx;
  const action = ctx.subject(p.actor);
  if (!action) return { status: 'violated', detail: `${p.actor} is not running any action`, evidence: { task: taskEvidence(state, p.actor) } };
  let tRef: number | null;
  let refText: string;
  const extra: Record<string, unknown> = {};
  if (p.after === 'start') {
    tRef = start;
    refText = 'the check began';
  } else if ('step' in p.after) {
    tRef = ctx.stepEnd(p.after.step);
    refText = `step ${p.after.step} ended`;
  } else if ('stepStart' in p.after) {
    tRef = ctx.stepBegan(p.after.stepStart);
    refText = `step ${p.after.stepStart} began`;
  } else {
    const key = p.after.pageIdle;
    const h = state.refHistory[key];
    tRef = h?.idleSince ?? null;
    refText = `${key} came back to its idle refcount (${h?.idle ?? '?'})`;
    extra.page = pageEvidence(state, key);
    if (tRef === null && now > start + sec(p.idleWithin ?? '60s', ctx)) {
      return {
        status: 'not-applicable',
        detail: `${key} never came back to its idle refcount within ${durationText(p.idleWithin ?? '60s')}: nothing to measure the wake-up from`,
        evidence: { ...extra, task: taskEvidence(state, p.actor), action: actionEvidence(action) },
      };
    }
  }
  if (tRef === null) return { status: 'pending' };
  const within = sec(p.within, ctx);
  const notBefore = p.notBefore !== undefined ? sec(p.notBefore, ctx) : null;
  const times = { reference: r3(tRef), deadline: r3(tRef + within), ...(notBefore !== null ? { notBefore: r3(tRef + notBefore) } : {}) };
  if (action.end !== null) {
    const took = action.end - tRef;
    const evidence = { ...extra, times: { ...times, end: r3(action.end) }, action: actionEvidence(action) };
    if (took > within) {
      return { status: 'violated', detail: `${p.actor}'s ${action.op} returned ${Math.round(took * 1000)} ms after ${refText}: later than ${durationText(p.within)}`, evidence };
    }
    if (notBefore !== null && took < notBefore) {
      return { status: 'violated', detail: `${p.actor}'s ${action.op} returned ${Math.round(took * 1000)} ms after ${refText}: sooner than ${durationText(p.notBefore!)}`, evidence };
    }
    return {
      status: 'held',
      detail:
        took >= 0
          ? `${p.actor}'s ${action.op} returned ${Math.round(took * 1000)} ms after ${refText}`
          : typeof p.after === 'object' && 'pageIdle' in p.after
            ? `${p.actor}'s ${action.op} returned before the sampler saw ${p.after.pageIdle} back at idle (${Math.round(-took * 1000)} ms earlier: the reference went between two snapshots)`
            : `${p.actor}'s ${action.op} returned ${Math.round(-took * 1000)} ms before ${refText}`,
      evidence,
    };
  }
  if (now <= tRef + within) return { status: 'pending' };
  const task = state.actors[p.actor]?.task;
  return {
    status: 'violated',
    detail: `${p.actor}'s ${action.op} had not returned ${Math.round((now - tRef) * 1000)} ms after ${refText} (limit ${durationText(p.within)}); it is ${task?.state ?? '?'} in ${task?.stack[0] ?? '?'}, blocked ${task?.blockedMs ?? '?'} ms`,
    evidence: { ...extra, times: { ...times, now: r3(now) }, task: taskEvidence(state, p.actor), action: actionEvidence(action) },
  };
}

function jsonMatch(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(expected)) return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => jsonMatch(actual[i], e));
  if (actual === null || typeof actual !== 'object') return false;
  return Object.entries(expected).every(([k, v]) => jsonMatch((actual as Record<string, unknown>)[k], v));
}

function returns(p: Extract<Predicate, { check: 'returns' }>, ctx: EvalContext): Outcome {
  const stepId = p.step ?? ctx.stepId;
  const action = ctx.stepAction(stepId);
  if (!action) return { status: 'not-applicable', detail: `step ${stepId} started no action`, evidence: {} };
  if (action.end === null) return { status: 'pending' };
  const evidence = { action: actionEvidence(action) };
  const got = action.signal ? `ended with ${action.signal}` : action.error ? `failed with ${action.error}` : `returned ${action.ret}`;
  const problems: string[] = [];
  if (p.ok && (action.error || action.signal)) problems.push('expected success');
  if (p.errno && !([p.errno].flat() as string[]).includes(action.error ?? '')) problems.push(`expected ${[p.errno].flat().join(' or ')}`);
  if (p.signal && action.signal !== p.signal) problems.push(`expected ${p.signal}`);
  if (p.ret !== undefined && action.ret !== p.ret) problems.push(`expected ret ${p.ret}`);
  if (p.result && !jsonMatch(action.result ?? {}, p.result)) problems.push(`expected a result with ${JSON.stringify(p.result)}, got ${JSON.stringify(action.result ?? {})}`);
  return problems.length
    ? { status: 'violated', detail: `${action.actor}'s ${action.op} ${got}: ${problems.join('; ')}`, evidence }
    : { status: 'held', detail: `${action.actor}'s ${action.op} ${got}`, evidence };
}

function page(p: Extract<Predicate, { check: 'page' }>, ctx: EvalContext): Outcome {
  const now = ctx.state.pages[p.page];
  if (!now) return { status: 'not-applicable', detail: `${p.page} is not in the latest snapshot (not watched?)`, evidence: {} };
  const problems: string[] = [];
  const facts: string[] = [];
  const evidence: Record<string, unknown> = { page: pageEvidence(ctx.state, p.page) };
  if (p.aboveIdle !== undefined) {
    facts.push(`${now.aboveIdle} above idle (ref ${now.ref}, idle ${now.idle})`);
    if (!inRange(now.aboveIdle, p.aboveIdle)) problems.push(`expected ${rangeText(p.aboveIdle)} above idle`);
  }
  if (p.pins !== undefined) {
    facts.push(`${now.pins} pins`);
    if (!inRange(now.pins, p.pins)) problems.push(`expected pins ${rangeText(p.pins)}`);
  }
  if (p.entry !== undefined) {
    facts.push(`entry ${now.entry}`);
    if (now.entry !== p.entry) problems.push(`expected entry ${p.entry}`);
  }
  for (const [kind, spec] of [
    ['aboveIdle', p.rose],
    ['pins', p.pinsRose],
  ] as const) {
    if (!spec) continue;
    const since = spec.since ?? ctx.stepId;
    const prior = ctx.before(since)?.pages[p.page];
    if (!prior) return { status: 'not-applicable', detail: `no sample of ${p.page} from before step ${since}`, evidence };
    const d = now[kind] - prior[kind];
    const allowed = [spec.by].flat().map((b) => (b === 'pin-bias' ? GUP_PIN_COUNTING_BIAS : b));
    evidence[`${kind}Before`] = pick(prior);
    facts.push(`${kind === 'pins' ? 'pins' : 'references above idle'} ${prior[kind]} -> ${now[kind]} (ref ${prior.ref} -> ${now.ref})`);
    if (!allowed.includes(d)) problems.push(`expected a rise by ${[spec.by].flat().join(' or ')}, saw ${d >= 0 ? '+' : ''}${d}`);
  }
  return problems.length
    ? { status: 'violated', detail: `${p.page}: ${facts.join(', ')}: ${problems.join('; ')}`, evidence }
    : { status: 'held', detail: `${p.page}: ${facts.join(', ')}`, evidence };
}

function lock(p: Extract<Predicate, { check: 'lock' }>, ctx: EvalContext): Outcome {
  const [label, name] = p.lock.split(':') as [string, string];
  const l = ctx.state.locks[lockKey({ file: label, lock: name })];
  if (!l) return { status: 'not-applicable', detail: `${p.lock} is not in the latest snapshot`, evidence: {} };
  const evidence = { lock: { ...l, history: ctx.state.lockHistory[l.key]?.transitions ?? [] } };
  const ownerPid = p.owner ? (ctx.state.actors[p.owner]?.task?.pid ?? null) : null;
  const holder = l.owner ? `${l.owner.comm}(${l.owner.pid})` : l.readers ? `${l.readers} reader(s)` : 'nobody';
  const text = `${p.lock} is ${l.state} (held by ${holder}${l.waiters.length ? `, ${l.waiters.length} waiting` : ''}) since t=${r3(l.since)}`;
  if (l.error) return { status: 'not-applicable', detail: `${p.lock} could not be read: ${l.error}`, evidence };
  if (l.state !== p.state) return { status: 'violated', detail: `${text}: expected ${p.state}`, evidence };
  if (p.owner && l.owner?.pid !== ownerPid) return { status: 'violated', detail: `${text}: expected ${p.owner} (pid ${ownerPid})`, evidence };
  return { status: 'held', detail: text, evidence };
}

function lease(p: Extract<Predicate, { check: 'lease' }>, ctx: EvalContext): Outcome {
  const on = ctx.state.leases.filter((l: LeaseState) => l.file === p.file);
  const ok = p.state === 'absent' ? on.length === 0 : on.some((l) => l.state === p.state);
  const evidence = { leases: on };
  const text = on.length ? on.map((l) => `${l.type} ${l.state} ${l.mode} pid ${l.pid}${l.breakLeftMs !== null ? ` (${l.breakLeftMs} ms left)` : ''}`).join('; ') : 'no lease';
  if (ok) return { status: 'held', detail: `${p.file}: ${text}`, evidence };
  if (p.within !== undefined && ctx.now < ctx.start + sec(p.within, ctx)) return { status: 'pending' };
  return { status: 'violated', detail: `${p.file}: ${text}; expected ${p.state}`, evidence };
}

function signal(p: Extract<Predicate, { check: 'signal' }>, ctx: EvalContext): Outcome {
  const from = Math.min(ctx.start, ctx.stepStart);
  const got = ctx.state.signals.find((s) => s.actor === p.actor && s.signal === p.signal && s.t >= from);
  if (got) return { status: 'held', detail: `${p.actor} got ${p.signal} ${Math.round((got.t - from) * 1000)} ms after its step began`, evidence: { signal: got } };
  if (ctx.now < ctx.start + sec(p.within, ctx)) return { status: 'pending' };
  const other = ctx.state.signals.filter((s) => s.actor === p.actor && s.t >= from);
  return { status: 'violated', detail: `${p.actor} got no ${p.signal} within ${durationText(p.within)}${other.length ? ` (got ${other.map((s) => s.signal).join(', ')})` : ''}`, evidence: { signals: other } };
}

function vmstat(p: Extract<Predicate, { check: 'vmstat' }>, ctx: EvalContext): Outcome {
  const since = p.rose.since ?? ctx.stepId;
  const then = ctx.before(since)?.vmstat.latest;
  const now = ctx.state.vmstat.latest;
  const names = [p.counter, ...(p.less ? [p.less] : [])];
  if (!then || names.some((n) => then[n] === undefined || now[n] === undefined)) {
    return { status: 'not-applicable', detail: `${names.join(' and ')} not sampled before and after step ${since}`, evidence: {} };
  }
  const rise = (n: string) => now[n]! - then[n]!;
  const d = rise(p.counter) - (p.less ? rise(p.less) : 0);
  const text = names.map((n) => `${n} ${then[n]} -> ${now[n]} (${rise(n) >= 0 ? '+' : ''}${rise(n)})`).join(', ');
  const evidence = { counter: p.counter, before: then[p.counter], after: now[p.counter], delta: d, ...(p.less ? { less: p.less, lessBefore: then[p.less], lessAfter: now[p.less] } : {}) };
  const what = p.less ? `net ${d >= 0 ? '+' : ''}${d}` : `rose by ${d}`;
  return d === p.rose.by
    ? { status: 'held', detail: p.less ? `${text}: net ${d >= 0 ? '+' : ''}${d}` : `${p.counter} ${then[p.counter]} -> ${now[p.counter]} (+${d})`, evidence }
    : { status: 'violated', detail: `${text}: ${what}, expected ${p.rose.by}`, evidence };
}

function eventMatches(e: EventMessage, re: RegExp, where: Record<string, string | number> | undefined): boolean {
  if (!re.test(e.name)) return false;
  for (const [k, v] of Object.entries(where ?? {})) {
    const got = e.fields[k];
    if (got === undefined) return false;
    if (typeof v === 'string' && v.startsWith('~')) {
      if (!new RegExp(v.slice(1)).test(String(got))) return false;
    } else if (String(got) !== String(v)) return false;
  }
  return true;
}

function event(p: Extract<Predicate, { check: 'event' }>, ctx: EvalContext): Outcome {
  // What the lab cannot observe on this kernel is not the kernel's doing either way.
  const seeable = ctx.observability?.(p.name) ?? { observable: true };
  if (!seeable.observable) return { status: 'not-applicable', detail: seeable.why, evidence: {} };
  const re = new RegExp(p.name);
  const from = Math.min(ctx.start, ctx.stepStart);
  const found = ctx.state.events.filter((e) => e.t >= from && eventMatches(e, re, p.where));
  const done = ctx.now >= ctx.start + sec(p.within, ctx);
  if (p.seen) {
    if (found.length) return { status: 'held', detail: `${found.length} event(s) ${found[0]!.name}, first ${Math.round((found[0]!.t - from) * 1000)} ms after its step began`, evidence: { events: found.slice(0, 10) } };
    return done ? { status: 'violated', detail: `no event /${p.name}/ within ${durationText(p.within)}`, evidence: {} } : { status: 'pending' };
  }
  if (found.length) return { status: 'violated', detail: `${found.length} event(s) ${found[0]!.name}`, evidence: { events: found.slice(0, 10) } };
  return done ? { status: 'held', detail: `no event /${p.name}/ in ${durationText(p.within)}`, evidence: {} } : { status: 'pending' };
}

function noDataMismatch(ctx: EvalContext): Outcome {
  if (!ctx.dataChecks.length) return { status: 'not-applicable', detail: 'no data was checked', evidence: {} };
  const bad = ctx.dataChecks.filter((c) => !c.ok);
  const evidence = { checked: ctx.dataChecks.length, mismatches: bad.slice(0, 20), mismatchCount: bad.length };
  return bad.length
    ? {
        status: 'violated',
        detail: `${bad.length} of ${ctx.dataChecks.length} values read did not match the shadow copy (first: round ${bad[0]!.round}, ${bad[0]!.actor} page ${bad[0]!.page} via ${bad[0]!.via}: got ${bad[0]!.got}, allowed ${bad[0]!.allowed.join('|')})`,
        evidence,
      }
    : { status: 'held', detail: `${ctx.dataChecks.length} values read, all as the shadow copy allows`, evidence };
}

// ---------------------------------------------------------------------------------------
// The hang detector and the context of a finding.

/** An actor asleep inside an action for longer than the limit, or null. */
export function hangCheck(state: LabState, limitMs: number, actors: readonly string[]): { actor: string; blockedMs: number } | null {
  for (const name of actors) {
    const t = state.actors[name]?.task;
    if (t && t.blockedMs > limitMs) return { actor: name, blockedMs: t.blockedMs };
  }
  return null;
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
