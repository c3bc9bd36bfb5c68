// finishes: the actor's running action returns within T after a reference time: the
// check's start, another step's start or end, or the moment a page's refcount came back
// to its idle baseline (the wake-up check of the 2022 thread); optionally not before T'.
import { z } from 'zod';
import { durationValue } from '../../config/units.js';
import { name, pageRef, stepId } from '../scenarioBasics.js';
import { common, defineCheck, durationText, r3, sec, type EvalContext, type Outcome } from './common.js';
import { actionEvidence, pageEvidence, taskEvidence } from './evidence.js';

const schema = z
  .object({
    ...common,
    check: z.literal('finishes'),
    actor: name,
    within: durationValue,
    /**
     * Reference time: "start" (this check's start), a step's start or end (the return of
     * its action, the delivery of its signal), or the moment a page came back to its
     * idle refcount.
     */
    after: z.union([
      z.literal('start'),
      z.object({ step: stepId }).strict(),
      z.object({ stepStart: stepId }).strict(),
      z.object({ pageIdle: pageRef }).strict(),
    ]),
    /** And not sooner than this after the reference (a lease-break-time countdown). */
    notBefore: durationValue.optional(),
    /** How long a page may take to come back to idle before the check cannot apply (default 60s). */
    idleWithin: durationValue.optional(),
  })
  .strict();
type P = z.output<typeof schema>;

export const finishes = defineCheck({
  kind: 'finishes',
  schema,
  describe: (p) => {
    const ref =
      p.after === 'start'
        ? 'from now'
        : 'step' in p.after
          ? `after step ${p.after.step} ended`
          : 'stepStart' in p.after
            ? `after step ${p.after.stepStart} began`
            : `after ${p.after.pageIdle} is back at its idle refcount`;
    return `${p.actor} returns within ${durationText(p.within)} ${ref}${p.notBefore !== undefined ? `, not before ${durationText(p.notBefore)}` : ''}`;
  },
  evaluate,
  bound: (p, d) => d(p.idleWithin ?? '60s') + d(p.within),
  watch: (p) => ({ panel: 'actors', row: p.actor }),
  namesPut: true,
  exportC: (p, x) => {
    let ref = 'REF_START';
    let refStep = -1;
    const a = p.after;
    if (typeof a === 'object' && 'step' in a) [ref, refStep] = ['REF_STEP_END', x.step(a.step)];
    else if (typeof a === 'object' && 'stepStart' in a) [ref, refStep] = ['REF_STEP_START', x.step(a.stepStart)];
    else if (typeof a === 'object' && 'pageIdle' in a) {
      // User space cannot read the refcount; the reference goes when the op holding it returns.
      refStep = x.releasingStep();
      if (refStep < 0) return x.none(`no earlier step lets go of ${a.pageIdle}'s reference in a way user space sees (odirect or drain returning)`);
      ref = 'REF_STEP_END';
    }
    const nb = p.notBefore === undefined ? 0 : x.ms(p.notBefore);
    const says = typeof a === 'object' && 'pageIdle' in a ? `${x.says} [reference: step ${x.stepName(refStep)} returned, which lets go of ${a.pageIdle}]` : x.says;
    return `{ .kind = CK_FINISHES, .id = ${x.cstr(x.id)}, .says = ${x.cstr(says)}, .when = ${x.when}, .actor = ${x.actor(p.actor)}, .ms = ${x.ms(p.within)}, .not_before_ms = ${nb}, .step = ${refStep}, .ref = ${ref}, .want_dax = -1 }`;
  },
  refs: (p, r) => {
    if (typeof p.after === 'object' && 'step' in p.after) r.step(p.after.step, ['after', 'step']);
    if (typeof p.after === 'object' && 'stepStart' in p.after) r.step(p.after.stepStart, ['after', 'stepStart']);
    if (typeof p.after === 'object' && 'pageIdle' in p.after) r.label(p.after.pageIdle, ['after', 'pageIdle']);
  },
});

function evaluate(p: P, ctx: EvalContext): Outcome {
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
