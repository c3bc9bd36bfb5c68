// fsx-style races, planned from a seed: in each round one mutator truncates, punches or
// extends the file while faulting actors store patterns (write faults), load them (read
// faults) and read holes (the kernel maps its zero page there), all at once. A shadow copy
// says, for every page, what a reader may see: within a round a page the mutator is
// changing may show its old or its new state; every other page exactly one value. Pure:
// the same seed always plans the same rounds.
import { PATTERN, type ActorOp } from '../wire/protocol.js';
import type { DataCheck } from './expect.js';
import type { Race } from './scenario.js';

/** mulberry32: small, fast, and the same sequence everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Shadow = {
  /** File size in pages. */
  size: number;
  /** Per page below size: its tag, or 0 for zeros (a hole or a fresh extension). */
  tags: number[];
};

export type Mutation = { kind: 'truncate' | 'extend' | 'punch'; from: number; to: number; newSize: number };

export type RaceOp = { actor: string; role: 'writer' | 'reader' | 'holeReader'; pages: number[]; tags?: number[] };

export type RoundPlan = { round: number; mutation: Mutation | null; ops: RaceOp[] };

export function initialShadow(race: Race, seed: number): Shadow {
  const tags = Array.from({ length: race.pages }, (_, p) => tagFor(seed, 0, p));
  return { size: race.pages, tags };
}

/** A tag unique to (seed, round, page), never 0. */
export function tagFor(seed: number, round: number, page: number): number {
  const t = (Math.imul(seed ^ 0x9e3779b9, 2654435761) + Math.imul(round + 1, 40503) * 65536 + page * 977 + round) >>> 0;
  return t === 0 ? 1 : t;
}

function pickDistinct(rand: () => number, from: number[], n: number): number[] {
  const pool = from.slice();
  const out: number[] = [];
  while (out.length < n && pool.length) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
  return out.sort((a, b) => a - b);
}

const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

function planMutation(race: Race, shadow: Shadow, rand: () => number): Mutation | null {
  const kinds = race.mutations.filter((k) => (k === 'extend' ? shadow.size < race.pages : shadow.size > 0));
  if (!kinds.length) return null;
  const kind = kinds[Math.floor(rand() * kinds.length)]!;
  if (kind === 'truncate') {
    const newSize = Math.floor(rand() * shadow.size);
    return { kind, from: newSize, to: shadow.size, newSize };
  }
  if (kind === 'extend') {
    const newSize = shadow.size + 1 + Math.floor(rand() * (race.pages - shadow.size));
    return { kind, from: shadow.size, to: newSize, newSize };
  }
  const from = Math.floor(rand() * shadow.size);
  const to = Math.min(shadow.size, from + 1 + Math.floor(rand() * 8));
  return { kind, from, to, newSize: shadow.size };
}

/** Plan one round from the shadow as it stands before it. */
export function planRound(race: Race, shadow: Shadow, round: number, rand: () => number, seed: number): RoundPlan {
  const mutation = planMutation(race, shadow, rand);
  const changing = new Set(mutation ? range(mutation.from, mutation.to) : []);
  const stable = Math.min(shadow.size, mutation?.newSize ?? shadow.size);
  const ops: RaceOp[] = [];
  const taken = new Set<number>();
  for (const actor of race.writers) {
    const candidates = range(0, stable).filter((p) => !changing.has(p) && !taken.has(p));
    const pages = pickDistinct(rand, candidates, race.pagesPerOp);
    pages.forEach((p) => taken.add(p));
    if (pages.length) ops.push({ actor, role: 'writer', pages, tags: pages.map((p) => tagFor(seed, round, p)) });
  }
  for (const actor of race.readers) {
    const pages = pickDistinct(rand, range(0, race.pages).filter((p) => !taken.has(p)), race.pagesPerOp);
    if (pages.length) ops.push({ actor, role: 'reader', pages });
  }
  for (const actor of race.holeReaders) {
    const holes = range(0, stable).filter((p) => !taken.has(p) && !changing.has(p) && shadow.tags[p] === 0);
    // No holes yet: read where the mutator is working instead (a punch makes some).
    const pages = pickDistinct(rand, holes.length ? holes : [...changing].filter((p) => !taken.has(p)), race.pagesPerOp);
    if (pages.length) ops.push({ actor, role: 'holeReader', pages });
  }
  return { round, mutation, ops };
}

/**
 * Whether a round raced anything: a mutation with at least one fault beside it. A race
 * none of whose rounds did is a race that tested nothing it claims (could not test).
 */
export function roundRaces(plan: RoundPlan): boolean {
  return plan.mutation !== null && plan.ops.length > 0;
}

/** The shadow after a round: the writers' tags, then the mutation. */
export function applyRound(shadow: Shadow, plan: RoundPlan, written: ReadonlyMap<number, number>): Shadow {
  const tags = shadow.tags.slice();
  for (const [p, tag] of written) if (p < shadow.size) tags[p] = tag;
  const m = plan.mutation;
  if (!m) return { size: shadow.size, tags };
  if (m.kind === 'truncate') return { size: m.newSize, tags: tags.slice(0, m.newSize) };
  if (m.kind === 'extend') return { size: m.newSize, tags: [...tags, ...Array<number>(m.newSize - shadow.size).fill(0)] };
  for (let p = m.from; p < m.to; p++) tags[p] = 0;
  return { size: shadow.size, tags };
}

/**
 * What a load of page p through the mapping may see during the round: the page before
 * or after it. A page loaded word by word while a punch replaces it with a hole can also
 * be part old pattern, part zeros (torn): a read racing a punch, not a kernel fault.
 */
export function allowedDuring(before: Shadow, after: Shadow, p: number): number[] {
  const at = (s: Shadow) => (p < s.size ? s.tags[p]! : PATTERN.sigbus);
  const a = at(before);
  const b = at(after);
  const allowed = new Set([a, b]);
  if (a > 0 && b === PATTERN.zero) allowed.add(PATTERN.torn + a);
  return [...allowed];
}

/** The mutator's syscall for a mutation. */
export function mutationOp(m: Mutation, pageSize = 4096): ActorOp {
  if (m.kind === 'punch') return { op: 'fallocate', mode: 'punch', offset: m.from * pageSize, length: (m.to - m.from) * pageSize };
  return { op: 'ftruncate', size: m.newSize * pageSize };
}

/** Check what readers saw against the shadow; writers' own faults (SIGBUS) are checked too. */
export function checkRound(
  plan: RoundPlan,
  before: Shadow,
  afterWrites: Shadow,
  results: ReadonlyMap<string, { tags?: number[]; faults?: Array<{ page: number; signal: string }> }>,
): DataCheck[] {
  const out: DataCheck[] = [];
  for (const op of plan.ops) {
    const r = results.get(op.actor);
    if (op.role === 'writer') {
      // Writers only write pages that exist before and after the round: no fault is allowed.
      for (const f of r?.faults ?? []) out.push({ round: plan.round, actor: op.actor, via: 'mmap', page: f.page, got: PATTERN.sigbus, allowed: [op.tags![op.pages.indexOf(f.page)]!], ok: false });
      continue;
    }
    op.pages.forEach((p, i) => {
      const got = r?.tags?.[i];
      const allowed = allowedDuring(before, afterWrites, p);
      out.push({ round: plan.round, actor: op.actor, via: 'mmap', page: p, got: got ?? NaN, allowed, ok: got !== undefined && allowed.includes(got) });
    });
  }
  return out;
}

/** The final read(2) of every page against the shadow: exactly one value each. */
export function checkFinal(shadow: Shadow, pages: number[], got: number[], round: number, actor: string): DataCheck[] {
  return pages.map((p, i) => {
    const allowed = [p < shadow.size ? shadow.tags[p]! : PATTERN.short];
    return { round, actor, via: 'read' as const, page: p, got: got[i] ?? NaN, allowed, ok: allowed.includes(got[i] ?? NaN) };
  });
}
