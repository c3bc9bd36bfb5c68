// vmstat: a /proc/vmstat counter (net of another, optionally) rose by exactly N since a
// step began, read after folding the per-CPU deltas (vm.stat_refresh).
import { z } from 'zod';
import { stepId } from '../scenarioBasics.js';
import { common, defineCheck, type EvalContext, type Outcome } from './common.js';

const schema = z
  .object({
    ...common,
    check: z.literal('vmstat'),
    counter: z.string().regex(/^[a-z0-9_]+$/),
    /**
     * Net of another counter: "nr_foll_pin_acquired less nr_foll_pin_released" is the pins
     * held (GUP-fast may take a pin and give it back before the slow path takes it again).
     */
    less: z.string().regex(/^[a-z0-9_]+$/).optional(),
    /** The counter rose by exactly this since the step `since` began (default: this step). */
    rose: z.object({ by: z.number().int(), since: stepId.optional() }).strict(),
  })
  .strict();
type P = z.output<typeof schema>;

export const vmstat = defineCheck({
  kind: 'vmstat',
  schema,
  describe: (p) => `${p.counter}${p.less ? ` less ${p.less}` : ''} rose by ${p.rose.by}`,
  evaluate,
  bound: () => 0,
  refs: (p, r) => r.step(p.rose.since, ['rose', 'since']),
  before: () => 'settled',
  settled: true,
  exportC: (_p, x) => x.none('/proc/vmstat counters are not followed'),
});

function evaluate(p: P, ctx: EvalContext): Outcome {
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
