// returns: a step's action (this step's by default) returned ok, an errno, a signal, a
// return value, or a result containing these fields.
import { z } from 'zod';
import { parseScenarioDuration } from '../../config/units.js';
import { ACTION_TIMEOUT, stepId } from '../scenarioBasics.js';
import { common, defineCheck, type EvalContext, type Outcome } from './common.js';
import { actionEvidence } from './evidence.js';

const schema = z
  .object({
    ...common,
    check: z.literal('returns'),
    /** The step whose action is meant (default: this step). */
    step: stepId.optional(),
    ok: z.literal(true).optional(),
    errno: z.union([z.string().regex(/^E[A-Z0-9]+$/), z.array(z.string().regex(/^E[A-Z0-9]+$/)).min(1)]).optional(),
    signal: z.string().optional(),
    ret: z.number().int().optional(),
    /** Fields the action's result must contain (compared as JSON). */
    result: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
type P = z.output<typeof schema>;

export const returns = defineCheck({
  kind: 'returns',
  schema,
  describe: (p, step) => {
    const what = p.errno ? `fails with ${[p.errno].flat().join(' or ')}` : p.signal ? `ends with ${p.signal}` : p.ok ? 'succeeds' : 'returns';
    const subject = p.step ? `the action of step ${p.step}` : step?.actor && step.op ? `${step.actor}'s ${step.op}` : 'the action';
    return `${subject} ${what}${p.ret !== undefined ? ` (ret ${p.ret})` : ''}${p.result ? ` with ${JSON.stringify(p.result)}` : ''}`;
  },
  evaluate,
  bound: () => parseScenarioDuration(ACTION_TIMEOUT) * 4,
  exportC: (p, x) => {
    const errno = p.errno === undefined ? null : Array.isArray(p.errno) ? p.errno : [p.errno];
    for (const e of errno ?? []) x.errno(e);
    const extra = Object.keys(p.result ?? {}).filter((key) => key !== 'dax');
    if (p.signal) return x.none('the signal an action ended with is not followed');
    const dax = p.result && 'dax' in p.result ? (p.result.dax ? 1 : 0) : -1;
    const says = extra.length ? `${x.says} (result fields ${extra.join(', ')} not checked)` : x.says;
    return `{ .kind = CK_RETURNS, .id = ${x.cstr(x.id)}, .says = ${x.cstr(says)}, .when = ${x.when}, .step = ${x.step(p.step)}, .actor = -1, .want_ok = ${p.ok ? 1 : 0}, .want_errno = ${x.cstr(errno?.join('|'))}, .has_ret = ${p.ret === undefined ? 0 : 1}, .want_ret = ${p.ret ?? 0}, .want_dax = ${dax} }`;
  },
  refs: (p, r) => {
    r.step(p.step, ['step']);
    if (!p.step && !r.stepHasAction) r.issue([], 'this step has no action: name the step whose action is meant ("step")');
  },
});

function evaluate(p: P, ctx: EvalContext): Outcome {
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

function jsonMatch(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(expected)) return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => jsonMatch(actual[i], e));
  if (actual === null || typeof actual !== 'object') return false;
  return Object.entries(expected).every(([k, v]) => jsonMatch((actual as Record<string, unknown>)[k], v));
}

/**
 * What a predicate says of a step's action failing, for the engine's judgement of failed
 * actions (../failures.ts): the step it is about (named, or its own), and the errnos and
 * signal it allows. Null for every other check kind.
 */
export function failureClaim(p: { check: string }, ownStep: string): { step: string; named: boolean; errnos: string[]; signal?: string } | null {
  if (p.check !== 'returns') return null;
  const r = p as P;
  return { step: r.step ?? ownStep, named: r.step !== undefined, errnos: r.errno === undefined ? [] : [r.errno].flat(), ...(r.signal ? { signal: r.signal } : {}) };
}
