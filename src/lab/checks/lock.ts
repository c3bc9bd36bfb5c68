// lock: an rwsem of a watched file (invalidate_lock, i_mmap_rwsem, i_rwsem) is free, held
// for read or for write, and by whom.
import { z } from 'zod';
import { lockRef, name } from '../scenarioBasics.js';
import { lockKey } from '../state.js';
import { common, defineCheck, r3, type EvalContext, type Outcome } from './common.js';

const schema = z.object({ ...common, check: z.literal('lock'), lock: lockRef, state: z.enum(['free', 'read', 'write']), owner: name.optional() }).strict();
type P = z.output<typeof schema>;

export const lock = defineCheck({
  kind: 'lock',
  schema,
  describe: (p) => `${p.lock} is ${p.state}${p.owner ? ` (held by ${p.owner})` : ''}`,
  evaluate,
  bound: () => 0,
  watch: (p) => ({ panel: 'locks', row: p.lock }),
  exportC: (_p, x) => x.none("an rw_semaphore's owner is kernel state (the lab reads it from the inode)"),
  refs: (p, r) => {
    r.label(p.lock, ['lock']);
    r.actor(p.owner, ['owner']);
  },
});

function evaluate(p: P, ctx: EvalContext): Outcome {
  const [label, name] = p.lock.split(':') as [string, string];
  const l = ctx.state.locks[lockKey({ file: label, lock: name })];
  if (!l) return { status: 'not-applicable', detail: `${p.lock} is not in the latest snapshot`, evidence: {} };
  const evidence = { lock: { ...l, history: ctx.state.lockHistory[l.key]?.transitions ?? [] } };
  const ownerPid = p.owner ? (ctx.state.actors[p.owner]?.task?.pid ?? null) : null;
  const holder = l.owner ? `${l.owner.comm}(${l.owner.pid})` : l.readers ? `${l.readers} reader(s)` : 'nobody';
  const text = `${p.lock} is ${l.state} (held by ${holder}${l.waiters.length ? `, ${l.waiters.length} waiting` : ''}) since t=${r3(l.since)}`;
  if (l.error) return { status: 'not-applicable', detail: `${p.lock} could not be read: ${l.error}`, evidence };
  if (l.state !== p.state) return { status: 'violated', detail: `${text}: expected ${p.state}`, evidence };
  if (p.owner && l.owner?.pid !== ownerPid) return { status: 'violated', detail: `${text}: expected ${p.owner} (pid ${ownerPid})`, evidence };
  return { status: 'held', detail: text, evidence };
}
