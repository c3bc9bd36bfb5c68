// event: a trace event (tracepoint or the lab's kprobe) was, or was not, seen within T of
// its step; not applicable where this kernel gives the lab no way to see it.
import { z } from 'zod';
import type { EventMessage } from '../../wire/protocol.js';
import { durationValue } from '../../config/units.js';
import { regex } from '../scenarioBasics.js';
import { common, defineCheck, durationText, sec, type EvalContext, type Outcome } from './common.js';

const schema = z
  .object({
    ...common,
    check: z.literal('event'),
    /** Event name, as a regular expression ("dax_layout_busy_page_range__return"). */
    name: regex,
    /** Fields that must match (as strings; a value starting with "~" is a regular expression). */
    where: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    seen: z.boolean().default(true),
    within: durationValue.default('1s'),
  })
  .strict();
type P = z.output<typeof schema>;

export const event = defineCheck({
  kind: 'event',
  schema,
  describe: (p) => `${p.seen ? 'an' : 'no'} event /${p.name}/${p.where ? ` with ${JSON.stringify(p.where)}` : ''} within ${durationText(p.within)}`,
  evaluate,
  bound: (p, d) => d(p.within),
  watch: () => ({ panel: 'events' }),
  exportC: (_p, x) => x.none('trace events and kprobes are not placed'),
});

function evaluate(p: P, ctx: EvalContext): Outcome {
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
