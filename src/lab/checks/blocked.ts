// blocked: the actor sleeps (S/D) in a kernel function matching `in`, within T (seen in a
// snapshot since the check or its step began; an action that returns first never slept there).
import { z } from 'zod';
import { durationValue } from '../../config/units.js';
import { name, regex } from '../scenarioBasics.js';
import { blockedState, common, defineCheck, durationText, r3, sec, type EvalContext, type Outcome } from './common.js';
import { actionEvidence, taskEvidence } from './evidence.js';

const schema = z.object({ ...common, check: z.literal('blocked'), actor: name, in: regex, within: durationValue }).strict();
type P = z.output<typeof schema>;

export const blocked = defineCheck({
  kind: 'blocked',
  schema,
  describe: (p) => `${p.actor} sleeps in /${p.in}/ within ${durationText(p.within)}`,
  evaluate,
  bound: (p, d) => d(p.within),
  watch: (p) => ({ panel: 'actors', row: p.actor }),
  exportC: (p, x) => `{ .kind = CK_BLOCKED, ${x.base}, .actor = ${x.actor(p.actor)}, .in = ${x.cstr(x.regex(p.in))}, .ms = ${x.ms(p.within)}, .step = -1, .want_dax = -1 }`,
});

function evaluate(p: P, ctx: EvalContext): Outcome {
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
