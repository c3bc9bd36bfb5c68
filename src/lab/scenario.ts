// The scenario model: actors, ordered steps (an action in an actor, a wait for a predicate,
// expectations), a narrative per step, the threads it comes from and the kernel-era notes.
// Built-in scenarios (src/lab/scenarios) and users' own (a profile's `scenarios`, or
// `daxlab run --scenario-file`) are the same data, checked by the same schema; every
// error names its path ("steps[3].expect[0].within: ...").
//
// Expectations are general predicates the engine evaluates over the lab state (state.ts)
// and the events, each with its time bound; `check` says which predicate:
//   blocked        the actor sleeps (S/D) in a kernel function matching `in`, within T
//   still-blocked  the actor's running action has not returned for T (and still sleeps)
//   finishes       the actor's running action returns within T after a reference time:
//                  the step's start, another step's end, or the moment a page's refcount
//                  came back to its idle baseline (the wake-up check of the 2022 thread)
//   returns        a step's action returned ok / an errno / a signal / a result
//   page           a watched page's aboveIdle, pins, or their rise since a step began
//                  ("rose by the pin bias", "rose by 1")
//   lock           an rwsem of a watched file: free / read / write, and by whom
//   lease          /proc/locks as the observer reads it: ACTIVE, BREAKING, absent
//   signal         an actor received a signal (the lease break) within T
//   vmstat         a /proc/vmstat counter rose by N (read after folding the per-CPU deltas)
//   event          a trace event was (or was not) seen within T
//   no-data-mismatch   every data check of the run found what the shadow copy predicts
// A scenario-level hang detector adds "no task blocked longer than N s".
import { z } from 'zod';
import { durationValue, parseDuration, parseScenarioDuration, parseSize, sizeValue, type DurationVars } from '../config/units.js';
import { scenarioOpSchema, type ScenarioOp } from '../wire/ops.js';
import { compareVersion, kernelVersion } from './era.js';
import { CannotTestError } from '../exit.js';
import { checkDocument, scenarioValueProblems, type Problem } from '../config/limits.js';

const name = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, '1-15 characters of [A-Za-z0-9_.-] (it becomes the task comm)');
const stepId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-"');
/** A watched page: "<label>#<index in the watching actor's mapping>". */
export const pageRef = z.string().regex(/^[A-Za-z0-9_.-]+#\d+$/, 'a watched page: "<label>#<index>", e.g. "victim#0"');
/** A lock of a watched file: "<label>:<lock>". */
export const lockRef = z.string().regex(/^[A-Za-z0-9_.-]+:(invalidate_lock|i_mmap_rwsem|i_rwsem)$/, 'a lock: "<label>:invalidate_lock", ":i_mmap_rwsem" or ":i_rwsem"');
const regex = z.string().superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(err as Error).message}` });
  }
});
const pages = z.array(z.number().int().nonnegative()).min(1);
const fsType = z.enum(['xfs', 'ext4']);
const version = z.string().regex(/^\d+\.\d+$/, 'a kernel version: "6.15"');

// ---------------------------------------------------------------------------------------
// Actions: the actor ops as scenarios write them (src/wire/ops.ts, one entry per op).

export const opSchema = scenarioOpSchema;
export type { ScenarioOp };

// ---------------------------------------------------------------------------------------
// Conditions: a step or an expectation that does not apply is skipped / not-applicable.

export const AVAILABLE = ['devdax', 'rdma', 'nullBlk'] as const;

export const conditionSchema = z
  .object({
    fs: z.array(fsType).min(1).optional(),
    /** Kernel releases from `from` (inclusive) and/or before `before`. */
    kernel: z.object({ from: version.optional(), before: version.optional() }).strict().optional(),
    /** Parts of the lab that must be there (a devdax namespace, soft-RoCE, null_blk). */
    available: z.array(z.enum(AVAILABLE)).min(1).optional(),
    /** The actor is still inside an action (e.g. a truncate that was never woken). */
    busy: name.optional(),
    /** That step's action returned without an error or a signal (e.g. release only what was taken). */
    succeeded: stepId.optional(),
    /** That step's action returned an error (the kernel refused it): check what a refusal must leave behind. */
    failed: stepId.optional(),
  })
  .strict();
export type Condition = z.infer<typeof conditionSchema>;

// ---------------------------------------------------------------------------------------
// Predicates.

const rangeOrInt = z.union([z.number().int(), z.object({ min: z.number().int().optional(), max: z.number().int().optional() }).strict()]);
/** A refcount delta: a number, or "pin-bias" (GUP_PIN_COUNTING_BIAS: a FOLL_PIN on a small folio). */
const delta = z.union([z.number().int(), z.literal('pin-bias')]);
const common = {
  /** Stable id for reports (default: "<step>.<n>"). */
  id: stepId.optional(),
  /** The expectation in our own words (default: generated from the predicate). */
  says: z.string().min(1).optional(),
  when: conditionSchema.optional(),
};

export const predicateSchema = z.discriminatedUnion('check', [
  z.object({ ...common, check: z.literal('blocked'), actor: name, in: regex, within: durationValue }).strict(),
  z.object({ ...common, check: z.literal('still-blocked'), actor: name, for: durationValue, in: regex.optional() }).strict(),
  z
    .object({
      ...common,
      check: z.literal('finishes'),
      actor: name,
      within: durationValue,
      /**
       * Reference time: "start" (this check's start), a step's start or end (the return of
       * its action, the delivery of its signal), or the moment a page came back to its
       * idle refcount.
       */
      after: z.union([
        z.literal('start'),
        z.object({ step: stepId }).strict(),
        z.object({ stepStart: stepId }).strict(),
        z.object({ pageIdle: pageRef }).strict(),
      ]),
      /** And not sooner than this after the reference (a lease-break-time countdown). */
      notBefore: durationValue.optional(),
      /** How long a page may take to come back to idle before the check cannot apply (default 60s). */
      idleWithin: durationValue.optional(),
    })
    .strict(),
  z
    .object({
      ...common,
      check: z.literal('returns'),
      /** The step whose action is meant (default: this step). */
      step: stepId.optional(),
      ok: z.literal(true).optional(),
      errno: z.union([z.string().regex(/^E[A-Z0-9]+$/), z.array(z.string().regex(/^E[A-Z0-9]+$/)).min(1)]).optional(),
      signal: z.string().optional(),
      ret: z.number().int().optional(),
      /** Fields the action's result must contain (compared as JSON). */
      result: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
  z
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
    .strict(),
  z.object({ ...common, check: z.literal('lock'), lock: lockRef, state: z.enum(['free', 'read', 'write']), owner: name.optional() }).strict(),
  z
    .object({ ...common, check: z.literal('lease'), file: z.string().min(1), state: z.enum(['ACTIVE', 'BREAKING', 'BREAKER', 'absent']), within: durationValue.optional() })
    .strict(),
  z.object({ ...common, check: z.literal('signal'), actor: name, signal: z.string().min(1), within: durationValue }).strict(),
  z
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
    .strict(),
  z
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
    .strict(),
  z.object({ ...common, check: z.literal('no-data-mismatch') }).strict(),
]);
export type Predicate = z.infer<typeof predicateSchema>;
export type PredicateInput = z.input<typeof predicateSchema>;

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
    switch (p.check) {
      case 'finishes':
        if (typeof p.after === 'object' && 'step' in p.after) stepRef(p.after.step, [...path, 'after', 'step'], i);
        if (typeof p.after === 'object' && 'stepStart' in p.after) stepRef(p.after.stepStart, [...path, 'after', 'stepStart'], i);
        if (typeof p.after === 'object' && 'pageIdle' in p.after) labelRef(p.after.pageIdle, [...path, 'after', 'pageIdle']);
        break;
      case 'returns':
        stepRef(p.step, [...path, 'step'], i);
        if (!p.step && !sc.steps[i]!.do) ctx.addIssue({ code: 'custom', path, message: 'this step has no action: name the step whose action is meant ("step")' });
        break;
      case 'page':
        labelRef(p.page, [...path, 'page']);
        stepRef(p.rose?.since, [...path, 'rose', 'since'], i);
        stepRef(p.pinsRose?.since, [...path, 'pinsRose', 'since'], i);
        break;
      case 'lock':
        labelRef(p.lock, [...path, 'lock']);
        actorRef(p.owner, [...path, 'owner']);
        break;
      case 'vmstat':
        stepRef(p.rose.since, [...path, 'rose', 'since'], i);
        break;
      default:
        break;
    }
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

export type ConditionContext = {
  fs: string;
  release: string;
  available: Readonly<Record<(typeof AVAILABLE)[number], boolean>>;
  busy: (actor: string) => boolean;
  succeeded: (stepId: string) => boolean;
  /** The step's action returned an errno (not a signal, not still running). */
  failed: (stepId: string) => boolean;
};

/** Whether a condition holds; when it does not, why (for "not-applicable"). */
export function conditionHolds(c: Condition | undefined, ctx: ConditionContext): { holds: true } | { holds: false; why: string } {
  if (!c) return { holds: true };
  if (c.fs && !c.fs.includes(ctx.fs as 'xfs')) return { holds: false, why: `applies to ${c.fs.join('/')}, not ${ctx.fs}` };
  const v = kernelVersion(ctx.release);
  if (c.kernel?.from && compareVersion(v, kernelVersion(c.kernel.from)) < 0) return { holds: false, why: `applies from v${c.kernel.from}; this is ${ctx.release}` };
  if (c.kernel?.before && compareVersion(v, kernelVersion(c.kernel.before)) >= 0) return { holds: false, why: `applies before v${c.kernel.before}; this is ${ctx.release}` };
  for (const part of c.available ?? []) if (!ctx.available[part]) return { holds: false, why: `needs ${part}, which this run does not have` };
  if (c.busy && !ctx.busy(c.busy)) return { holds: false, why: `${c.busy} is not inside an action any more` };
  if (c.succeeded && !ctx.succeeded(c.succeeded)) return { holds: false, why: `step ${c.succeeded} did not succeed` };
  if (c.failed && !ctx.failed(c.failed)) return { holds: false, why: `step ${c.failed} was not refused` };
  return { holds: true };
}

/** What a scenario needs of a profile, in words (for `daxlab list`). */
export function describeNeeds(s: Scenario): string[] {
  const out: string[] = [];
  if (s.needs.fs) out.push(`fs ${s.needs.fs.join('|')}`);
  if (s.needs.devdax) out.push(`devdax namespace (${s.needs.devdax})`);
  if (s.needs.rdma) out.push(`soft-RoCE (${s.needs.rdma})`);
  if (s.needs.nullBlk) out.push(`null_blk, I/O completing after ${s.needs.nullBlk.completion}`);
  return out;
}
