// A step's action that failed, judged (../failures.ts says whose mistake it is): said in
// the run's log and kept on the step's record either way. A failure the scenario
// declares is left to its expectations. One it does not declare never passes silently:
// the scenario's own mistake (the kernel rightly refused the lab's request) makes the
// run "could not test" at once; the kernel's refusal of what the scenario takes for
// granted is left to the step's expectations, and then the run stops (what follows would
// not test what it says).
import { classifyFailure, failureDeclared, judgedLater } from '../failures.js';
import type { Step } from '../scenario.js';
import type { RunContext } from './context.js';
import type { StepRecord } from './types.js';

export type JudgedFailure = NonNullable<StepRecord['failure']>;

/** Judge the step's action if it has ended and failed (once per step); null otherwise. */
export function judgeAction(ctx: RunContext, step: Step, index: number, stepId: string, record: StepRecord): JudgedFailure | null {
  if (ctx.judged.has(stepId)) return null;
  const a = ctx.stepAction(stepId);
  if (!a || a.end === null || !step.do) return null;
  ctx.judged.add(stepId);
  record.action ??= { ret: a.ret, error: a.error, signal: a.signal, ms: a.ms, result: a.result };
  const end = { op: step.do.op, ...(a.error ? { error: a.error } : {}), ...(a.signal ? { signal: a.signal } : {}) };
  const c = classifyFailure(end);
  if (!c) return null;
  const failure: JudgedFailure = { ...c, declared: failureDeclared(ctx.scenario, stepId, end) };
  record.failure = failure;
  const where = `step ${index + 1} (${stepId}): ${step.actor}'s ${step.do.op}`;
  const what = a.error ?? a.signal;
  if (failure.declared) {
    ctx.log(`    ${step.actor}'s ${step.do.op} failed: ${what} (the scenario allows it: its expectations judge it)`);
  } else if (failure.kind === 'scenario') {
    ctx.log(`    ${step.actor}'s ${step.do.op} failed: ${what} — the scenario is wrong: ${c.why}`);
    ctx.mistake(`the scenario is wrong: ${where} failed: ${c.why}; fix the scenario (not a kernel finding)`);
  } else if (judgedLater(ctx.scenario, stepId)) {
    ctx.log(`    ${step.actor}'s ${step.do.op} failed: ${what} — ${c.why}; a later "returns" check judges it`);
  } else {
    ctx.log(`    ${step.actor}'s ${step.do.op} failed: ${what} — ${c.why}, and the scenario does not say it may`);
  }
  return failure;
}

/**
 * After a step's expectations: an undeclared refusal by the kernel stops the run. The
 * step's own expectations have judged it (a violated one is a finding with the errno in
 * its evidence); the steps after it assumed the action succeeded.
 */
export function stopAfterUndeclared(ctx: RunContext, step: Step, index: number, stepId: string, failure: JudgedFailure | null): void {
  if (!failure || failure.declared || failure.kind !== 'kernel' || ctx.stopped) return;
  // A later step's "returns" check is about this action: it judges the refusal there.
  if (judgedLater(ctx.scenario, stepId)) return;
  ctx.stop(
    'precondition',
    `step ${index + 1} (${stepId}): ${failure.why}, which the scenario does not declare: the steps after it would not test what they say ` +
      `(declare it with a "returns" check that allows it, or a later step's when: { failed: "${stepId}" })`,
  );
}

/** Async actions that ended since: judged before the next step runs (and at the run's end). */
export function judgeEnded(ctx: RunContext): void {
  ctx.scenario.steps.forEach((step, index) => {
    const stepId = step.id ?? `step-${index + 1}`;
    const record = ctx.stepRecords.find((r) => r.id === stepId);
    if (!record || !step.async || ctx.judged.has(stepId)) return;
    const failure = judgeAction(ctx, step, index, stepId, record);
    if (failure && !failure.declared && failure.kind === 'kernel') stopAfterUndeclared(ctx, step, index, stepId, failure);
  });
}
