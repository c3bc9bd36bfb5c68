// page: a watched page's references above its idle baseline, its pins, its DAX entry, or
// their rise since a step began ("rose by the pin bias", "rose by 1").
import { z } from 'zod';
import { GUP_PIN_COUNTING_BIAS } from '../era.js';
import { pageRef, stepId } from '../scenarioBasics.js';
import { common, defineCheck, type EvalContext, type Outcome } from './common.js';
import { pageEvidence, pick } from './evidence.js';

const rangeOrInt = z.union([z.number().int(), z.object({ min: z.number().int().optional(), max: z.number().int().optional() }).strict()]);
/** A refcount delta: a number, or "pin-bias" (GUP_PIN_COUNTING_BIAS: a FOLL_PIN on a small folio). */
const delta = z.union([z.number().int(), z.literal('pin-bias')]);

const schema = z
  .object({
    ...common,
    check: z.literal('page'),
    page: pageRef,
    aboveIdle: rangeOrInt.optional(),
    pins: rangeOrInt.optional(),
    /** aboveIdle (references beyond the idle baseline) rose by one of these since the step `since` began. */
    rose: z.object({ by: z.union([delta, z.array(delta).min(1)]), since: stepId.optional() }).strict().optional(),
    /** pins rose by this since the step `since` began. */
    pinsRose: z.object({ by: z.number().int(), since: stepId.optional() }).strict().optional(),
    entry: z.enum(['unlocked', 'locked', 'empty', 'zero', 'none', 'n/a']).optional(),
  })
  .strict();
type P = z.output<typeof schema>;

export const page = defineCheck({
  kind: 'page',
  schema,
  describe: (p) => {
    const parts: string[] = [];
    if (p.rose) parts.push(`references rose by ${[p.rose.by].flat().join(' or ')}${p.rose.since ? ` since step ${p.rose.since}` : ''}`);
    if (p.pinsRose) parts.push(`pins rose by ${p.pinsRose.by}`);
    if (p.aboveIdle !== undefined) parts.push(`references above idle ${rangeText(p.aboveIdle)}`);
    if (p.pins !== undefined) parts.push(`pins ${rangeText(p.pins)}`);
    if (p.entry) parts.push(`DAX entry ${p.entry}`);
    return `${p.page}: ${parts.join(', ') || 'watched'}`;
  },
  evaluate,
  bound: () => 0,
  watch: (p) => ({ panel: 'pages', row: p.page }),
  refs: (p, r) => {
    r.label(p.page, ['page']);
    r.step(p.rose?.since, ['rose', 'since']);
    r.step(p.pinsRose?.since, ['pinsRose', 'since']);
  },
  before: (p) => (p.rose || p.pinsRose ? 'sample' : null),
  exportC: (_p, x) => x.none("a page's refcount and pins are kernel state (the lab reads struct page)"),
  cWaitsForSleep: true,
});

function evaluate(p: P, ctx: EvalContext): Outcome {
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

function rangeText(r: number | { min?: number; max?: number }): string {
  if (typeof r === 'number') return `= ${r}`;
  if (r.min !== undefined && r.max !== undefined) return `in [${r.min}, ${r.max}]`;
  return r.min !== undefined ? `>= ${r.min}` : `<= ${r.max}`;
}

function inRange(v: number, r: number | { min?: number; max?: number }): boolean {
  if (typeof r === 'number') return v === r;
  return (r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max);
}
