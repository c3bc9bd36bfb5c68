// The scenario model: actors, ordered steps (an action in an actor, a wait for a predicate,
// expectations), a narrative per step, the threads it comes from and the kernel-era notes.
// Built-in scenarios (src/lab/scenarios) and users' own (a profile's `scenarios`, or
// `daxlab run --scenario-file`) are the same data, checked by the same schema; every
// error names its path ("steps[3].expect[0].within: ...").
//
// Expectations are general predicates the engine evaluates over the lab state (state.ts)
// and the events, each with its time bound; `check` says which predicate, one module per
// kind under checks/ (blocked, still-blocked, finishes, returns, page, lock, lease,
// signal, vmstat, event, no-data-mismatch; checks/index.ts is the registry).
// A scenario-level hang detector adds "no task blocked longer than N s".
import { z } from 'zod';
import { durationValue, parseDuration, parseScenarioDuration, parseSize, sizeValue, type DurationVars } from '../config/units.js';
import { scenarioOpSchema, type ScenarioOp } from '../wire/ops.js';
import { checkRefs, predicateSchema, type Predicate } from './checks/index.js';
import { AVAILABLE, conditionSchema, fsType, name, pageRef, stepId } from './scenarioBasics.js';
import { CannotTestError } from '../exit.js';
import { checkDocument, scenarioValueProblems, type Problem } from '../config/limits.js';

const pages = z.array(z.number().int().nonnegative()).min(1);

export { ACTION_TIMEOUT, AVAILABLE, conditionHolds, conditionSchema, lockRef, pageRef, type Condition, type ConditionContext } from './scenarioBasics.js';

// ---------------------------------------------------------------------------------------
// Actions: the actor ops as scenarios write them (src/wire/ops.ts, one entry per op).

export const opSchema = scenarioOpSchema;
export type { ScenarioOp };

// ---------------------------------------------------------------------------------------
// Predicates: one module per check kind (checks/*), their union from the registry.

export { predicateSchema, type Predicate, type PredicateInput } from './checks/index.js';

// ---------------------------------------------------------------------------------------
// Races (fsx-style): a seeded sequence of rounds; in each, faulting actors and one
// mutator act at once on one file, and every value read is checked against a shadow copy.

export const raceSchema = z
  .object({
    /** The file, relative to the run's directory on the DAX mount. */
    file: z.string().min(1),
    /** The file's largest size, in pages; every faulting actor maps that much. */
    pages: z.number().int().min(4).max(256),
    rounds: z.number().int().min(1).max(10_000),
    /** Write faults: stores of a fresh pattern through the mapping. */
    writers: z.array(name).min(1),
    /** Read faults: loads through the mapping, checked against the shadow. */
    readers: z.array(name).default([]),
    /** Read faults on holes: the kernel maps its zero page there. */
    holeReaders: z.array(name).default([]),
    mutator: name,
    mutations: z.array(z.enum(['truncate', 'punch', 'extend'])).min(1),
    /** Pages each faulting actor touches per round. */
    pagesPerOp: z.number().int().min(1).max(32).default(4),
  })
  .strict();
export type Race = z.infer<typeof raceSchema>;

// ---------------------------------------------------------------------------------------
// Steps and scenarios.

export const stepSchema = z
  .object({
    id: stepId.optional(),
    /** What happens in the kernel and what to watch, in our own words. */
    say: z.string().min(1),
    /** Message-IDs (of the scenario's threads) this step comes from. */
    cite: z.array(z.string()).optional(),
    when: conditionSchema.optional(),
    actor: name.optional(),
    do: opSchema.optional(),
    /** Start the action and go on (default: wait for it to return). */
    async: z.boolean().optional(),
    /** How long a synchronous action may take before it counts as hung (default 30s). */
    timeout: durationValue.optional(),
    /** Send a signal to an actor (the host does it; a caught signal is reported by the actor). */
    kill: z.object({ actor: name, signal: z.string().default('SIGKILL') }).strict().optional(),
    /** Watch pages of an actor's mapping (default: the step's actor) under a label. */
    watch: z.object({ actor: name.optional(), pages, label: z.string().regex(/^[A-Za-z0-9_.-]+$/) }).strict().optional(),
    /**
     * A precondition, polled until it holds or the timeout passes: the scenario cannot
     * go on meaningfully without it (if it never holds, the run could not test).
     */
    waitFor: z.object({ until: predicateSchema, timeout: durationValue.default('5s') }).strict().optional(),
    expect: z.array(predicateSchema).optional(),
    /** Record the reference this step took (or released) in a table cell. */
    record: z
      .object({ table: z.string().min(1), row: z.string().min(1), column: z.string().min(1), page: pageRef, phase: z.enum(['take', 'release']) })
      .strict()
      .optional(),
    race: raceSchema.optional(),
  })
  .strict();
export type Step = z.infer<typeof stepSchema>;
export type StepInput = z.input<typeof stepSchema>;

export const threadSchema = z
  .object({
    subject: z.string().min(1),
    /** As in the message headers, with the angle brackets. */
    messageId: z.string().regex(/^<[^<>\s]+@[^<>\s]+>$/, 'a Message-ID with its angle brackets: "<id@host>"').optional(),
    year: z.number().int().min(1991).max(2100).optional(),
  })
  .strict();

export const actorSchema = z
  .object({
    name,
    /** "verbs": the actor runs in daxlab-verbs (libibverbs) and can register RDMA memory. */
    program: z.enum(['agent', 'verbs']).default('agent'),
  })
  .strict();

export const scenarioSchema = z
  .object({
    id: stepId,
    title: z.string().min(1),
    summary: z.string().min(1),
    threads: z.array(threadSchema).default([]),
    /** Kernel-era notes: what changes the expected numbers, and since when. */
    era: z.array(z.string().min(1)).default([]),
    needs: z
      .object({
        fs: z.array(fsType).min(1).optional(),
        /** A device-dax namespace in the profile. */
        devdax: z.enum(['required', 'optional']).optional(),
        /** Soft-RoCE (rdma_rxe on a dummy netdev) and the verbs actor. */
        rdma: z.enum(['required', 'optional']).optional(),
        /** null_blk whose I/O completes after this long (irqmode=2). */
        nullBlk: z.object({ completion: durationValue }).strict().optional(),
      })
      .strict()
      .default({}),
    actors: z.array(actorSchema).min(1).max(12),
    /** No task may stay blocked longer than this; if one does, its stack and everyone's are the evidence. */
    hangDetector: z.object({ blockedLongerThan: durationValue }).strict().optional(),
    /** Observer rate while the scenario runs (default 20 Hz). */
    sampleHz: z.number().min(1).max(50).optional(),
    steps: z.array(stepSchema).min(1),
  })
  .strict()
  .superRefine(crossCheck);
export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;

type Ctx = z.RefinementCtx;
type ScenarioShape = Omit<Scenario, never>;

/** References between parts: actors, step ids, labels, citations. */
function crossCheck(sc: ScenarioShape, ctx: Ctx): void {
  const actors = new Set<string>();
  sc.actors.forEach((a, i) => {
    if (actors.has(a.name)) ctx.addIssue({ code: 'custom', path: ['actors', i, 'name'], message: `actor "${a.name}" is declared twice` });
    actors.add(a.name);
  });
  const known = () => [...actors].join(', ');
  const ids = new Map<string, number>();
  sc.steps.forEach((st, i) => {
    if (!st.id) return;
    if (ids.has(st.id)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'id'], message: `step id "${st.id}" is also steps[${ids.get(st.id)}]` });
    ids.set(st.id, i);
  });
  const messageIds = new Set(sc.threads.map((t) => t.messageId).filter(Boolean));
  const expectationIds = new Set<string>();
  const labels = new Set<string>();
  const actorRef = (value: string | undefined, path: (string | number)[]) => {
    if (value !== undefined && !actors.has(value)) ctx.addIssue({ code: 'custom', path, message: `no actor "${value}" (declared: ${known()})` });
  };
  const stepRef = (value: string | undefined, path: (string | number)[], before: number) => {
    if (value === undefined) return;
    const at = ids.get(value);
    if (at === undefined) ctx.addIssue({ code: 'custom', path, message: `no step with id "${value}"` });
    else if (at > before) ctx.addIssue({ code: 'custom', path, message: `step "${value}" comes later (steps[${at}]): only earlier steps can be referred to` });
  };
  const labelRef = (ref: string, path: (string | number)[]) => {
    const label = ref.split(/[#:]/)[0]!;
    if (!labels.has(label)) ctx.addIssue({ code: 'custom', path, message: `no watched label "${label}" before this point (watch pages first)` });
  };
  const predicate = (p: Predicate, path: (string | number)[], i: number) => {
    if ('actor' in p) actorRef(p.actor, [...path, 'actor']);
    if (p.when?.busy) actorRef(p.when.busy, [...path, 'when', 'busy']);
    stepRef(p.when?.succeeded, [...path, 'when', 'succeeded'], i);
    stepRef(p.when?.failed, [...path, 'when', 'failed'], i);
    if (p.id) {
      if (expectationIds.has(p.id)) ctx.addIssue({ code: 'custom', path: [...path, 'id'], message: `expectation id "${p.id}" is used twice` });
      expectationIds.add(p.id);
    }
    checkRefs(p, {
      actor: (value, sub) => actorRef(value, [...path, ...sub]),
      step: (value, sub) => stepRef(value, [...path, ...sub], i),
      label: (ref, sub) => labelRef(ref, [...path, ...sub]),
      issue: (sub, message) => ctx.addIssue({ code: 'custom', path: [...path, ...sub], message }),
      stepHasAction: !!sc.steps[i]!.do,
    });
  };
  sc.steps.forEach((st, i) => {
    const path = ['steps', i];
    actorRef(st.actor, [...path, 'actor']);
    if (st.when?.busy) actorRef(st.when.busy, [...path, 'when', 'busy']);
    stepRef(st.when?.succeeded, [...path, 'when', 'succeeded'], i - 1);
    stepRef(st.when?.failed, [...path, 'when', 'failed'], i - 1);
    if (st.do && !st.actor) ctx.addIssue({ code: 'custom', path: [...path, 'actor'], message: 'an action needs the actor that runs it' });
    if (st.async && !st.do) ctx.addIssue({ code: 'custom', path: [...path, 'async'], message: 'async without an action' });
    if (st.kill) actorRef(st.kill.actor, [...path, 'kill', 'actor']);
    if (st.watch) {
      const who = st.watch.actor ?? st.actor;
      if (!who) ctx.addIssue({ code: 'custom', path: [...path, 'watch', 'actor'], message: 'watch needs an actor (here or on the step)' });
      else actorRef(who, [...path, 'watch', 'actor']);
    }
    for (const id of st.cite ?? []) {
      if (!messageIds.has(id)) ctx.addIssue({ code: 'custom', path: [...path, 'cite'], message: `${id} is not the Message-ID of one of the scenario's threads` });
    }
    if (st.watch) labels.add(st.watch.label);
    if (st.waitFor) predicate(st.waitFor.until, [...path, 'waitFor', 'until'], i);
    st.expect?.forEach((p, k) => predicate(p, [...path, 'expect', k], i));
    if (st.record) labelRef(st.record.page, [...path, 'record', 'page']);
    if (st.race) {
      const r = st.race;
      for (const role of ['writers', 'readers', 'holeReaders'] as const) r[role].forEach((a, j) => actorRef(a, [...path, 'race', role, j]));
      actorRef(r.mutator, [...path, 'race', 'mutator']);
      const roles = [...r.writers, ...r.readers, ...r.holeReaders, r.mutator];
      if (new Set(roles).size !== roles.length) ctx.addIssue({ code: 'custom', path: [...path, 'race'], message: 'an actor can have only one role in a race' });
      // The file starts at its largest size: extend alone never happens, and the race would race nothing.
      if (r.mutations.every((m) => m === 'extend')) {
        ctx.addIssue({ code: 'custom', path: [...path, 'race', 'mutations'], message: 'extend alone never happens (the file starts at its largest size, "pages"): add truncate or punch' });
      }
    }
    if (!st.do && !st.kill && !st.watch && !st.waitFor && !st.expect?.length && !st.record && !st.race) {
      ctx.addIssue({ code: 'custom', path, message: 'a step does something: do, kill, watch, waitFor, expect or race' });
    }
  });
}

// ---------------------------------------------------------------------------------------
// Validation with paths, as profiles do it.

export class ScenarioError extends CannotTestError {
  constructor(
    readonly source: string,
    readonly problems: string[],
    /** A one-line message instead of "scenario X is not valid: ..." (an unknown id, a bad option). */
    headline?: string,
  ) {
    super(headline ?? `scenario ${source} is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function formatPath(issuePath: readonly PropertyKey[]): string {
  if (issuePath.length === 0) return '(top level)';
  return issuePath.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i ? '.' : ''}${String(key)}`)).join('');
}

/** Unions report their branches' issues nested: surface the branch the data was meant for. */
function flattenIssues(issues: readonly z.core.$ZodIssue[], base: readonly PropertyKey[] = []): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const at = [...base, ...issue.path];
    if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors) && issue.errors.length) {
      // The branch with the fewest problems is the one the author meant.
      const branches = (issue.errors as z.core.$ZodIssue[][]).slice().sort((a, b) => a.length - b.length);
      out.push(...flattenIssues(branches[0]!, at));
      continue;
    }
    out.push(`${formatPath(at)}: ${issue.message}`);
  }
  return out;
}

/** Every problem of untrusted scenario data, each with its path (for a profile's `scenarios`). */
export function scenarioIssues(data: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const doc = checkDocument(data);
  if (doc.problems.length) return doc.problems;
  const result = scenarioSchema.safeParse(doc.data);
  if (result.success) return scenarioValueProblems(result.data);
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  const walk = (issues: readonly z.core.$ZodIssue[], base: readonly PropertyKey[]) => {
    for (const issue of issues) {
      const at = [...base, ...issue.path];
      if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors) && issue.errors.length) {
        walk((issue.errors as z.core.$ZodIssue[][]).slice().sort((a, b) => a.length - b.length)[0]!, at);
      } else out.push({ path: at, message: issue.message });
    }
  };
  walk(result.error.issues, []);
  return out;
}

/**
 * Untrusted scenario data through the one validation pass: the document's size and depth
 * (its strings made safe to print), the schema, then every value (src/config/limits.ts).
 */
export function validateScenario(data: unknown, source: string): Scenario {
  const doc = checkDocument(data);
  const problems = (list: Problem[]) => list.map((p) => `${formatPath(p.path)}: ${p.message}`);
  if (doc.problems.length) throw new ScenarioError(source, problems(doc.problems));
  const result = scenarioSchema.safeParse(doc.data);
  if (!result.success) throw new ScenarioError(source, flattenIssues(result.error.issues));
  const values = scenarioValueProblems(result.data);
  if (values.length) throw new ScenarioError(source, problems(values));
  return result.data;
}

/** The JSON a user would write for this scenario (defaults filled in). */
export function exportScenario(s: Scenario): string {
  return `${JSON.stringify(s, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------
// Small helpers shared by the engine and the CLI.

/** What a scenario needs of a profile, in words (for `daxlab list`). */
export function describeNeeds(s: Scenario): string[] {
  const out: string[] = [];
  if (s.needs.fs) out.push(`fs ${s.needs.fs.join('|')}`);
  if (s.needs.devdax) out.push(`devdax namespace (${s.needs.devdax})`);
  if (s.needs.rdma) out.push(`soft-RoCE (${s.needs.rdma})`);
  if (s.needs.nullBlk) out.push(`null_blk, I/O completing after ${s.needs.nullBlk.completion}`);
  return out;
}
