// no-data-mismatch: every value a race step read (through the mapping and by read(2)
// afterwards) is one the shadow copy allows.
import { z } from 'zod';
import { common, defineCheck, type EvalContext, type Outcome } from './common.js';

const schema = z.object({ ...common, check: z.literal('no-data-mismatch') }).strict();
type P = z.output<typeof schema>;

export const noDataMismatch = defineCheck({
  kind: 'no-data-mismatch',
  schema,
  describe: () => 'every value read matches the shadow copy',
  evaluate,
  bound: () => 0,
  exportC: (_p, x) => x.none('no shadow copy of the data is kept'),
});

function evaluate(_p: P, ctx: EvalContext): Outcome {
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
