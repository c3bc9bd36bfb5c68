// lease: the leases on a file as the observer reads /proc/locks: ACTIVE, BREAKING,
// BREAKER, or none left (absent), optionally within T.
import { z } from 'zod';
import type { LeaseState } from '../../wire/protocol.js';
import { durationValue } from '../../config/units.js';
import { common, defineCheck, durationText, sec, type EvalContext, type Outcome } from './common.js';

const schema = z
  .object({ ...common, check: z.literal('lease'), file: z.string().min(1), state: z.enum(['ACTIVE', 'BREAKING', 'BREAKER', 'absent']), within: durationValue.optional() })
  .strict();
type P = z.output<typeof schema>;

export const lease = defineCheck({
  kind: 'lease',
  schema,
  describe: (p) => (p.state === 'absent' ? `no lease left on ${p.file}` : `a lease on ${p.file} is ${p.state}${p.within !== undefined ? ` within ${durationText(p.within)}` : ''}`),
  evaluate,
  bound: (p, d) => d(p.within),
  watch: (p) => ({ panel: 'leases', row: p.file }),
  exportC: (_p, x) => x.none('the lease state as /proc/locks shows it is not followed'),
});

function evaluate(p: P, ctx: EvalContext): Outcome {
  const on = ctx.state.leases.filter((l: LeaseState) => l.file === p.file);
  const ok = p.state === 'absent' ? on.length === 0 : on.some((l) => l.state === p.state);
  const evidence = { leases: on };
  const text = on.length ? on.map((l) => `${l.type} ${l.state} ${l.mode} pid ${l.pid}${l.breakLeftMs !== null ? ` (${l.breakLeftMs} ms left)` : ''}`).join('; ') : 'no lease';
  if (ok) return { status: 'held', detail: `${p.file}: ${text}`, evidence };
  if (p.within !== undefined && ctx.now < ctx.start + sec(p.within, ctx)) return { status: 'pending' };
  return { status: 'violated', detail: `${p.file}: ${text}; expected ${p.state}`, evidence };
}
