// The fsx-style race planner: seeded, and a shadow copy that says what a reader may see.
import { describe, expect, it } from 'vitest';
import { PATTERN } from '../../src/wire/protocol.js';
import { allowedDuring, applyRound, checkFinal, checkRound, initialShadow, mutationOp, planRound, prng, type Shadow } from '../../src/lab/race.js';
import { raceSchema } from '../../src/lab/scenario.js';

const race = raceSchema.parse({
  file: 'racer',
  pages: 32,
  rounds: 200,
  writers: ['w1', 'w2'],
  readers: ['r'],
  holeReaders: ['h'],
  mutator: 'm',
  mutations: ['truncate', 'punch', 'extend'],
});

function plan(seed: number, rounds = race.rounds) {
  const rand = prng(seed);
  let shadow = initialShadow(race, seed);
  const plans = [];
  for (let r = 1; r <= rounds; r++) {
    const p = planRound(race, shadow, r, rand, seed);
    plans.push({ p, before: shadow });
    const written = new Map(p.ops.filter((o) => o.role === 'writer').flatMap((o) => o.pages.map((pg, i) => [pg, o.tags![i]!] as const)));
    shadow = applyRound(shadow, p, written);
  }
  return { plans, shadow };
}

describe('race planning', () => {
  it('is the same for the same seed and differs for another', () => {
    expect(plan(7).plans.map((x) => x.p)).toEqual(plan(7).plans.map((x) => x.p));
    expect(plan(8).plans.map((x) => x.p)).not.toEqual(plan(7).plans.map((x) => x.p));
  });

  it('writers only touch pages that exist before and after the round and that the mutator leaves alone', () => {
    for (const { p, before } of plan(3).plans) {
      const m = p.mutation;
      const stable = Math.min(before.size, m?.newSize ?? before.size);
      const seen = new Set<number>();
      for (const op of p.ops.filter((o) => o.role === 'writer')) {
        for (const pg of op.pages) {
          expect(pg).toBeLessThan(stable);
          if (m) expect(pg >= m.from && pg < m.to).toBe(false);
          expect(seen.has(pg)).toBe(false); // writers never share a page in a round
          seen.add(pg);
        }
        expect(op.tags!.every((t) => t > 0 && t < 2 ** 32)).toBe(true);
      }
      // Readers never read a page being written in the same round (no torn writes to judge).
      for (const op of p.ops.filter((o) => o.role !== 'writer')) for (const pg of op.pages) expect(seen.has(pg)).toBe(false);
    }
  });

  it('uses every mutation over a run, and the shadow keeps size and tags consistent', () => {
    const { plans, shadow } = plan(1);
    const kinds = new Set(plans.map((x) => x.p.mutation?.kind));
    expect(kinds).toEqual(new Set(['truncate', 'punch', 'extend']));
    expect(shadow.tags).toHaveLength(shadow.size);
    expect(shadow.size).toBeLessThanOrEqual(race.pages);
  });

  it('maps mutations to the mutator\'s syscalls', () => {
    expect(mutationOp({ kind: 'punch', from: 2, to: 5, newSize: 10 })).toEqual({ op: 'fallocate', mode: 'punch', offset: 8192, length: 12288 });
    expect(mutationOp({ kind: 'truncate', from: 3, to: 10, newSize: 3 })).toEqual({ op: 'ftruncate', size: 12288 });
    expect(mutationOp({ kind: 'extend', from: 10, to: 12, newSize: 12 })).toEqual({ op: 'ftruncate', size: 49152 });
  });
});

describe('what a reader may see', () => {
  const before: Shadow = { size: 4, tags: [11, 12, 0, 14] };

  it('a page the mutator is changing: its old or new state; a punch also allows a torn read', () => {
    const punched = applyRound(before, { round: 1, mutation: { kind: 'punch', from: 1, to: 2, newSize: 4 }, ops: [] }, new Map());
    expect(allowedDuring(before, punched, 1).sort()).toEqual([0, 12, PATTERN.torn + 12].sort());
    const truncated = applyRound(before, { round: 1, mutation: { kind: 'truncate', from: 2, to: 4, newSize: 2 }, ops: [] }, new Map());
    expect(allowedDuring(before, truncated, 3).sort()).toEqual([PATTERN.sigbus, 14].sort());
    expect(allowedDuring(before, truncated, 0)).toEqual([11]);
    const extended = applyRound(before, { round: 1, mutation: { kind: 'extend', from: 4, to: 6, newSize: 6 }, ops: [] }, new Map());
    expect(allowedDuring(before, extended, 5).sort()).toEqual([PATTERN.sigbus, 0].sort());
  });

  it('checkRound flags a value outside the allowed set, and any fault of a writer', () => {
    const round = { round: 4, mutation: null, ops: [{ actor: 'r', role: 'reader' as const, pages: [0, 2] }, { actor: 'w', role: 'writer' as const, pages: [3], tags: [99] }] };
    const after = applyRound(before, round, new Map([[3, 99]]));
    const results = new Map([
      ['r', { tags: [11, PATTERN.garbage] }],
      ['w', { faults: [{ page: 3, signal: 'SIGBUS' }] }],
    ]);
    const checks = checkRound(round, before, after, results);
    expect(checks.filter((c) => !c.ok).map((c) => [c.actor, c.page, c.got])).toEqual([
      ['r', 2, PATTERN.garbage],
      ['w', 3, PATTERN.sigbus],
    ]);
  });

  it('the final read(2): exactly the shadow, short reads past the end', () => {
    const checks = checkFinal(before, [0, 2, 5], [11, 0, PATTERN.short], 9, 'm');
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checkFinal(before, [3], [PATTERN.torn + 14], 9, 'm')[0]!.ok).toBe(false);
  });
});
