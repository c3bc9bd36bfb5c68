// What every check module shares: the shape of a check (its schema piece, its words, its
// evaluation over the lab state, its time bound, the panel it is about, the references it
// makes, what it needs sampled), the evaluation context, and small helpers.
//
// Times are on the guest clock (seconds); durations in predicates are milliseconds.
import { z } from 'zod';
import type { Observability } from '../era.js';
import { parseScenarioDuration, type DurationVars } from '../../config/units.js';
import { conditionSchema, stepId, type ConditionContext } from '../scenarioBasics.js';
import type { ActionRecord, LabState } from '../state.js';

export type Status = 'held' | 'violated' | 'not-applicable';

export type Outcome =
  | { status: 'pending' }
  | { status: Status; detail: string; evidence: Record<string, unknown> };

/** A value one faulting actor read, and what the shadow copy allowed there. */
export type DataCheck = {
  round: number;
  actor: string;
  via: 'mmap' | 'read';
  page: number;
  got: number;
  allowed: number[];
  ok: boolean;
};

export type EvalContext = {
  state: LabState;
  /** Guest time now (the latest message's t). */
  now: number;
  /** Guest time this check began. */
  start: number;
  /** Guest time its step began (before the step's action): signals and events count from here. */
  stepStart: number;
  /** When a step began. */
  stepBegan: (stepId: string) => number | null;
  /** The id of the step the check belongs to (for "returns" and "rose" defaults). */
  stepId: string;
  /** The action a step started (null: none, or the step has not run). */
  stepAction: (stepId: string) => ActionRecord | null;
  /** When a step's work ended: its action's return, or its signal's delivery. */
  stepEnd: (stepId: string) => number | null;
  /** The state sampled just before a step's action began. */
  before: (stepId: string) => LabState | undefined;
  /** The action the actor was running (or last ran) when this check began. */
  subject: (actor: string) => ActionRecord | null;
  vars: DurationVars;
  dataChecks: readonly DataCheck[];
  conditions: ConditionContext;
  /** Whether events named so can be seen on this kernel at all (the tracepoints and kprobes placed). */
  observability?: (name: string) => Observability;
};

/** The dashboard panels a check can be about (src/screens/view.ts has them all). */
export type WatchPanel = 'actors' | 'pages' | 'locks' | 'leases' | 'events';
/** Where a user should look: a panel, and the row there. */
export type Watch = { panel: WatchPanel; row?: string };

/** The scenario's references a check makes, checked when the scenario is loaded (paths relative to the check). */
export type RefCheck = {
  actor(value: string | undefined, path: (string | number)[]): void;
  /** A step id: it must exist and come no later than this step. */
  step(value: string | undefined, path: (string | number)[]): void;
  /** A watched label ("<label>#<n>", "<label>:<lock>"): it must be watched before this point. */
  label(ref: string, path: (string | number)[]): void;
  issue(path: (string | number)[], message: string): void;
  /** Whether the check's step starts an action. */
  stepHasAction: boolean;
};

/** What a check needs sampled just before its step's action: a snapshot, or one after folding vmstat. */
export type Sampling = 'sample' | 'settled';

export type CheckDef<S extends z.ZodType<{ check: string }>> = {
  kind: z.output<S>['check'];
  /** Its piece of the scenario schema (one branch of the predicate union). */
  schema: S;
  /** The expectation in words, as the panels and reports show it; `step` names the action a check without its own subject refers to. */
  describe(p: z.output<S>, step?: { actor?: string; op?: string }): string;
  /** Its outcome over the lab state so far ("pending" while it cannot tell yet). */
  evaluate(p: z.output<S>, ctx: EvalContext): Outcome;
  /** How long (host ms, the engine adds its slack) it may stay pending; `d` reads a duration. */
  bound(p: z.output<S>, d: (v: string | number | undefined) => number): number;
  /** Where the dashboard looks for what it is about. */
  watch?(p: z.output<S>): Watch | undefined;
  /** Its references to other parts of the scenario. */
  refs?(p: z.output<S>, r: RefCheck): void;
  /** What must be sampled just before its step's action (its "before"). */
  before?(p: z.output<S>): Sampling | null;
  /** Evaluated from a settled sample (per-CPU vmstat deltas folded first). */
  settled?: true;
  /** A wake-up check: when it is violated, the finding names the put that let the page go (putpath.ts). */
  namesPut?: true;
  /** Its entry in a standalone C reproducer's table of checks (lab/exportC.ts), or why user space cannot check it. */
  exportC(p: z.output<S>, x: CForm): string;
  /** As a step's precondition, the reproducer waits for it by waiting for the step's async action to sleep in its call. */
  cWaitsForSleep?: true;
};

/** What a check's C form is written with (lab/exportC.ts and repro/runtime.c's struct check). */
export type CForm = {
  /** The check's id and words, and its condition, as C fields: `.id = ..., .says = ..., .when = ...`. */
  base: string;
  id: string;
  says: string;
  when: string;
  cstr(s: string | null | undefined): string;
  /** An actor's index (-1: none). */
  actor(name: string | undefined): number;
  /** A step's index (-1: none). */
  step(id: string | undefined): number;
  /** A duration in ms (refused when it depends on a guest quantity). */
  ms(v: string | number): number;
  /** A regular expression as POSIX ERE (refused when ERE lacks its syntax). */
  regex(re: string): string;
  /** An errno name the program must know. */
  errno(name: string): void;
  /** The latest step up to this one whose action lets go of a reference when it returns; -1 if none. */
  releasingStep(): number;
  /** A step's name as the scenario writes it. */
  stepName(index: number): string;
  /** Not checked by the reproducer, and why (listed as such). */
  none(why: string): string;
};

/** A check module's definition, with its types inferred from its schema. */
export function defineCheck<S extends z.ZodType<{ check: string }>>(def: CheckDef<S>): CheckDef<S> {
  return def;
}

/** Fields every check has. */
export const common = {
  /** Stable id for reports (default: "<step>.<n>"). */
  id: stepId.optional(),
  /** The expectation in our own words (default: generated from the predicate). */
  says: z.string().min(1).optional(),
  when: conditionSchema.optional(),
};

export const ms = (d: string | number, ctx: EvalContext) => parseScenarioDuration(d, ctx.vars);
export const sec = (d: string | number, ctx: EvalContext) => ms(d, ctx) / 1000;
export const r3 = (n: number) => Math.round(n * 1000) / 1000;
export const blockedState = (s: string) => s === 'S' || s === 'D';

export function durationText(d: string | number): string {
  return typeof d === 'number' ? `${d} ms` : d;
}
