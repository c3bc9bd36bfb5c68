// still-blocked: the actor's running action has not returned for T (and, with `in`, it
// still sleeps in a function matching it).
import { z } from 'zod';
import { durationValue } from '../../config/units.js';
import { name, regex } from '../scenarioBasics.js';
import { blockedState, common, defineCheck, durationText, sec, type EvalContext, type Outcome } from './common.js';
import { actionEvidence, taskEvidence } from './evidence.js';

const schema = z.object({ ...common, check: z.literal('still-blocked'), actor: name, for: durationValue, in: regex.optional() }).strict();
type P = z.output<typeof schema>;

export const stillBlocked = defineCheck({
  kind: 'still-blocked',
  schema,
  describe: (p) => `${p.actor} has not returned ${durationText(p.for)} later${p.in ? ` (still in /${p.in}/)` : ''}`,
  evaluate,
  bound: (p, d) => d(p.for),
  watch: (p) => ({ panel: 'actors', row: p.actor }),
  exportC: (p, x) => `{ .kind = CK_STILL_BLOCKED, ${x.base}, .actor = ${x.actor(p.actor)}, .in = ${x.cstr(p.in ? x.regex(p.in) : null)}, .ms = ${x.ms(p.for)}, .step = -1, .want_dax = -1 }`,
});

function evaluate(p: P, ctx: EvalContext): Outcome {
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
