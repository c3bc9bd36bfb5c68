// The checks a scenario's expectations are made of: one module per kind (its schema piece,
// its words, its evaluation, its time bound, the panel it is about, the references it
// makes) and this registry, the one list of kinds. The predicate schema, describe(),
// evaluate() and the rest read a check's module through it; nothing switches on a kind.
import { z } from 'zod';
import { parseScenarioDuration, type DurationVars } from '../../config/units.js';
import { conditionHolds } from '../scenarioBasics.js';
import type { Step } from '../scenario.js';
import type { CForm, CheckDef, EvalContext, Outcome, RefCheck, Sampling, Watch } from './common.js';
import { blocked } from './blocked.js';
import { event } from './event.js';
import { finishes } from './finishes.js';
import { lease } from './lease.js';
import { lock } from './lock.js';
import { noDataMismatch } from './noDataMismatch.js';
import { page } from './page.js';
import { returns } from './returns.js';
import { signal } from './signal.js';
import { stillBlocked } from './stillBlocked.js';
import { vmstat } from './vmstat.js';

/** Every check kind, in the order the schema lists them. */
export const CHECKS = [blocked, stillBlocked, finishes, returns, page, lock, lease, signal, vmstat, event, noDataMismatch] as const;

/** The schemas of a tuple of checks, as a tuple (a homomorphic mapped type needs the type parameter). */
type SchemasOf<T extends readonly unknown[]> = { -readonly [I in keyof T]: T[I] extends { schema: infer S } ? S : never };
type Schemas = SchemasOf<typeof CHECKS>;
export const predicateSchema = z.discriminatedUnion('check', CHECKS.map((c) => c.schema) as unknown as Schemas);
export type Predicate = z.infer<typeof predicateSchema>;
export type PredicateInput = z.input<typeof predicateSchema>;
export type CheckKind = Predicate['check'];

type AnyCheck = CheckDef<z.ZodType<Predicate>>;
const BY_KIND = new Map<string, AnyCheck>(CHECKS.map((c) => [c.kind, c as unknown as AnyCheck]));

/** The module of a predicate's kind. */
export function checkOf(p: Predicate): AnyCheck {
  return BY_KIND.get(p.check)!;
}

/** The expectation in words; `step` names the action a "returns" check without a step refers to. */
export function describe(p: Predicate, step?: { actor?: string; op?: string }): string {
  if (p.says) return p.says;
  return checkOf(p).describe(p, step);
}

/** Its outcome over the lab state so far; not applicable when its condition does not hold. */
export function evaluate(p: Predicate, ctx: EvalContext): Outcome {
  const cond = conditionHolds(p.when, ctx.conditions);
  if (!cond.holds) return { status: 'not-applicable', detail: cond.why, evidence: {} };
  return checkOf(p).evaluate(p, ctx);
}

/** How long (host ms, before the engine's slack) a predicate may stay pending. */
export function boundMs(p: Predicate, vars: DurationVars): number {
  return checkOf(p).bound(p, (v) => (v === undefined ? 0 : parseScenarioDuration(v, vars)));
}

/** What a predicate needs sampled just before its step's action. */
export function samplingBefore(p: Predicate): Sampling | null {
  return checkOf(p).before?.(p) ?? null;
}

/** Whether a predicate is evaluated from a settled sample (vmstat folded first). */
export function wantsSettled(p: Predicate): boolean {
  return checkOf(p).settled === true;
}

/** Whether a verdict of this check (by its kind's name) names the put path in its finding. */
export function namesPut(check: string): boolean {
  return BY_KIND.get(check)?.namesPut === true;
}

/** A predicate's entry in a standalone C reproducer (lab/exportC.ts), or why user space cannot check it. */
export function exportCOf(p: Predicate, x: CForm): string {
  return checkOf(p).exportC(p, x);
}

/** Whether the reproducer can wait for this precondition by waiting for an async action to sleep. */
export function cWaitsForSleep(p: Predicate): boolean {
  return checkOf(p).cWaitsForSleep === true;
}

/** A predicate's references to the rest of its scenario (checked when it is loaded). */
export function checkRefs(p: Predicate, r: RefCheck): void {
  checkOf(p).refs?.(p, r);
}

/** Where a user should look after a step: the panel and row its first expectation is about, else its watched pages. */
export function watchOf(s: Step): Watch | undefined {
  const preds: Predicate[] = [...(s.expect ?? []), ...(s.waitFor ? [s.waitFor.until] : [])];
  for (const p of preds) {
    const at = checkOf(p).watch?.(p);
    if (at) return at;
  }
  if (s.watch) return { panel: 'pages', row: `${s.watch.label}#${s.watch.pages[0]}` };
  return undefined;
}

export type { CForm, CheckDef, DataCheck, EvalContext, Outcome, RefCheck, Sampling, Status, Watch, WatchPanel } from './common.js';
