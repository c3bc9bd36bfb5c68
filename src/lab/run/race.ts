// Running a race step (fsx-style): set the file up, then round by round start the
// mutator's truncate/punch/extend and the faulters' pattern writes and checks at once,
// wait for them with the hang detector watching, and compare what each read with the
// shadow model (../race.ts). The data checks it leaves feed the "data" expectations.
// A race must race: if none of its rounds ran a fault beside a mutation that happened, it
// tested nothing it claims and the run could not test. An op the kernel refused because
// the scenario is wrong (a race on a file that cannot be truncated) is the scenario's
// mistake; a faulter whose op failed otherwise ends the race (its reads would be no data).
import { setTimeout as sleep } from 'node:timers/promises';
import type { ActionEnd } from '../driver.js';
import type { ActorOp } from '../../wire/protocol.js';
import { applyRound, checkFinal, checkRound, initialShadow, mutationOp, planRound, prng, roundRaces, type RoundPlan, type Shadow } from '../race.js';
import { classifyFailure } from '../failures.js';
import type { Race } from '../scenario.js';
import type { RunContext } from './context.js';

export async function runRace(ctx: RunContext, race: Race, index: number, stepId: string): Promise<void> {
  const rand = prng(ctx.seed);
  const PAGE = 4096;
  const faulters = [...race.writers, ...race.readers, ...race.holeReaders];
  const file = ctx.path(race.file);
  const counts = { rounds: 0, racingRounds: 0, ops: 0, sigbus: 0, zero: 0, torn: 0, mutations: { truncate: 0, punch: 0, extend: 0 } as Record<string, number> };
  ctx.measurements.race = counts;
  const where = `step ${index + 1} (${stepId})`;
  /** A failed race op: the scenario's mistake, or the kernel's refusal (in words). */
  const failed = (e: ActionEnd, round: number | 'set-up'): { scenario: boolean; why: string } | null => {
    const c = classifyFailure({ op: e.op, ...(e.error ? { error: e.error } : {}), ...(e.signal ? { signal: e.signal } : {}) });
    if (!c) return null;
    const why = `${where}, race ${round === 'set-up' ? 'set-up' : `round ${round}`}: ${e.actor}'s ${c.why}`;
    ctx.log(`    ${e.actor}'s ${e.op} failed: ${e.error ?? e.signal}${c.kind === 'scenario' ? ' — the scenario is wrong' : ''}`);
    if (c.kind === 'scenario') ctx.mistake(`the scenario is wrong: ${why}; fix the scenario (not a kernel finding)`);
    return { scenario: c.kind === 'scenario', why };
  };
  const must = async (actor: string, op: ActorOp) => {
    const end = await ctx.driver.act(actor, op, 60_000);
    const f = failed(end, 'set-up');
    if (f) throw new Error(`race set-up: ${f.why}`);
    return end;
  };
  // Set-up: the file at its largest size, every page with the round-0 pattern.
  let shadow: Shadow = initialShadow(race, ctx.seed);
  await must(race.mutator, { op: 'open', path: file, create: true, size: race.pages * PAGE });
  for (const a of faulters) {
    await must(a, { op: 'open', path: file });
    await must(a, { op: 'mmap', length: race.pages * PAGE, flags: ['MAP_SHARED'] });
  }
  const all = Array.from({ length: race.pages }, (_, p) => p);
  await must(race.writers[0]!, { op: 'pattern_write', pages: all, tags: shadow.tags });
  await ctx.driver.watchPages(race.writers[0]!, [0], race.file.replace(/[^A-Za-z0-9_.-]/g, '_'));
  ctx.log(`    race: ${race.rounds} rounds on ${race.pages} pages, seed ${ctx.seed}`);

  for (let round = 1; round <= race.rounds; round++) {
    const plan: RoundPlan = planRound(race, shadow, round, rand, ctx.seed);
    const pending: Array<{ actor: string; end: Promise<ActionEnd> }> = [];
    if (plan.mutation) {
      const s = await ctx.driver.start(race.mutator, mutationOp(plan.mutation, PAGE));
      ctx.lastStarted.set(race.mutator, { id: s.id, op: plan.mutation.kind });
      pending.push({ actor: race.mutator, end: s.end });
      counts.mutations[plan.mutation.kind]!++;
    }
    for (const op of plan.ops) {
      const wire: ActorOp = op.role === 'writer' ? { op: 'pattern_write', pages: op.pages, tags: op.tags! } : { op: 'pattern_check', pages: op.pages };
      const s = await ctx.driver.start(op.actor, wire);
      ctx.lastStarted.set(op.actor, { id: s.id, op: wire.op });
      pending.push({ actor: op.actor, end: s.end });
    }
    counts.ops += pending.length;
    const ends = new Map<string, ActionEnd>();
    for (const p of pending) void p.end.then((e) => ends.set(p.actor, e));
    // Wait for the round, with the hang detector watching.
    const limit = Date.now() + 120_000;
    while (ends.size < pending.length) {
      ctx.hang.noteBlocked();
      if (ctx.hang.watch()) break;
      if (Date.now() > limit) {
        ctx.stop('hang', `race round ${round} did not complete in 120 s`);
        break;
      }
      await sleep(10);
    }
    if (ctx.stopped) break;
    // A faulter whose op failed has no values to check: the race cannot go on.
    const refused = plan.ops.map((op) => failed(ends.get(op.actor)!, round)).find((f) => f !== null);
    if (refused) {
      ctx.stop('precondition', `the race could not go on: ${refused.why}`);
      break;
    }
    const written = new Map<number, number>();
    const results = new Map<string, { tags?: number[]; faults?: Array<{ page: number; signal: string }> }>();
    for (const op of plan.ops) {
      const e = ends.get(op.actor)!;
      const res = (e.result ?? {}) as { tags?: number[]; faults?: Array<{ page: number; signal: string }> };
      results.set(op.actor, res);
      if (op.role === 'writer') {
        const failed = new Set((res.faults ?? []).map((f) => f.page));
        op.pages.forEach((p, i) => !failed.has(p) && written.set(p, op.tags![i]!));
      }
      for (const t of res.tags ?? []) {
        if (t === -2) counts.sigbus++;
        else if (t === 0) counts.zero++;
        else if (t >= 2 ** 32) counts.torn++;
      }
    }
    const m = plan.mutation ? ends.get(race.mutator) : undefined;
    const mutationFailed = m ? failed(m, round) : null;
    if (mutationFailed?.scenario) break;
    if (m && mutationFailed) {
      ctx.verdict({ id: `${stepId}.round-${round}`, step: index + 1, stepId, check: 'returns', description: `the mutator's ${plan.mutation!.kind} succeeds`, status: 'violated', detail: `${m.op} failed: ${m.error ?? m.signal}`, evidence: { action: m } });
    }
    // A mutation that did not happen does not change the shadow.
    const done: RoundPlan = mutationFailed ? { ...plan, mutation: null } : plan;
    const after = applyRound(shadow, done, written);
    ctx.dataChecks.push(...checkRound(done, shadow, after, results));
    if (roundRaces(done)) counts.racingRounds++;
    shadow = after;
    counts.rounds = round;
  }
  if (!ctx.stopped) {
    // fsx's last word: read(2) every page and compare with the shadow.
    const final = await must(race.mutator, { op: 'pattern_check', pages: all, via: 'read' });
    ctx.dataChecks.push(...checkFinal(shadow, all, (final.result?.tags as number[]) ?? [], race.rounds + 1, race.mutator));
    ctx.measurements.shadow = { size: shadow.size, tags: shadow.tags };
  }
  ctx.hang.noteBlocked();
  if (!ctx.stopped && counts.racingRounds === 0) {
    ctx.stop(
      'precondition',
      `${where}: the race raced nothing: none of its ${counts.rounds} rounds ran a fault beside a truncate, punch or extend that happened (seed ${ctx.seed}); ` +
        'give it more rounds, more pages per op, or another seed',
    );
  }
  const bad = ctx.dataChecks.filter((c) => !c.ok).length;
  ctx.log(`    race: ${counts.rounds} rounds (${counts.racingRounds} racing a mutation), ${counts.ops} ops, ${counts.sigbus} SIGBUS, ${counts.zero} zero pages read, ${counts.torn} torn reads, ${bad} mismatches`);
}
