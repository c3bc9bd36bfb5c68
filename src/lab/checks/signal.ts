// signal: an actor received a signal (a lease break's SIGIO, a SIGBUS) within T of its step.
import { z } from 'zod';
import { durationValue } from '../../config/units.js';
import { name } from '../scenarioBasics.js';
import { common, defineCheck, durationText, sec, type EvalContext, type Outcome } from './common.js';

const schema = z.object({ ...common, check: z.literal('signal'), actor: name, signal: z.string().min(1), within: durationValue }).strict();
type P = z.output<typeof schema>;

export const signal = defineCheck({
  kind: 'signal',
  schema,
  describe: (p) => `${p.actor} receives ${p.signal} within ${durationText(p.within)}`,
  evaluate,
  bound: (p, d) => d(p.within),
  watch: (p) => ({ panel: 'actors', row: p.actor }),
  exportC: (_p, x) => x.none('signals an actor receives are not followed'),
});

function evaluate(p: P, ctx: EvalContext): Outcome {
  const from = Math.min(ctx.start, ctx.stepStart);
  const got = ctx.state.signals.find((s) => s.actor === p.actor && s.signal === p.signal && s.t >= from);
  if (got) return { status: 'held', detail: `${p.actor} got ${p.signal} ${Math.round((got.t - from) * 1000)} ms after its step began`, evidence: { signal: got } };
  if (ctx.now < ctx.start + sec(p.within, ctx)) return { status: 'pending' };
  const other = ctx.state.signals.filter((s) => s.actor === p.actor && s.t >= from);
  return { status: 'violated', detail: `${p.actor} got no ${p.signal} within ${durationText(p.within)}${other.length ? ` (got ${other.map((s) => s.signal).join(', ')})` : ''}`, evidence: { signals: other } };
}
