// One step of a scenario: skipped or not reached (its expectations not applicable, with
// why), or run: a snapshot before, a signal or an op started in an actor (awaited unless
// async), pages watched, a precondition waited for, a race, each expectation evaluated
// into a verdict, and a table cell recorded (pin accounting).
import { AgentError } from '../../wire/link.js';
import { samplingBefore } from '../checks/index.js';
import { describe } from '../expect.js';
import { conditionHolds, type Step } from '../scenario.js';
import { tableCell } from '../tables.js';
import { parseScenarioDuration } from '../../config/units.js';
import type { RunContext, StepInfo } from './context.js';
import { awaitAction, evaluateUntil, waitUntil } from './poll.js';
import { runRace } from './race.js';
import { judgeAction, judgeEnded, stopAfterUndeclared, type JudgedFailure } from './actionFailure.js';
import type { StepRecord } from './types.js';

function notApplicable(ctx: RunContext, step: Step, index: number, stepId: string, why: string): void {
  const w = step.waitFor?.until;
  if (w) ctx.verdict({ id: w.id ?? `${stepId}.wait`, step: index + 1, stepId, check: w.check, description: `wait until ${describe(w)}`, status: 'not-applicable', detail: why, evidence: {}, precondition: true });
  step.expect?.forEach((p, k) =>
    ctx.verdict({ id: p.id ?? `${stepId}.${k + 1}`, step: index + 1, stepId, check: p.check, description: describe(p, { actor: step.actor, op: step.do?.op }), status: 'not-applicable', detail: why, evidence: {} }),
  );
}

export async function runStep(ctx: RunContext, step: Step, index: number): Promise<void> {
  const stepId = step.id ?? `step-${index + 1}`;
  const info: StepInfo = { index, actionId: null, actor: step.actor ?? null, start: ctx.now, end: null, before: undefined };
  // An async action of an earlier step that failed since is judged before this step runs.
  judgeEnded(ctx);
  ctx.steps.set(stepId, info);
  const record: StepRecord = { step: index + 1, id: stepId, say: step.say, status: 'ran', start: null, end: null, ...(step.actor ? { actor: step.actor } : {}), ...(step.do ? { op: step.do.op } : {}) };
  ctx.stepRecords.push(record);
  if (ctx.stopped) {
    record.status = 'not-reached';
    record.reason = ctx.stopped.why;
    notApplicable(ctx, step, index, stepId, `not reached: ${ctx.stopped.why}`);
    return;
  }
  const cond = conditionHolds(step.when, ctx.conditions());
  if (!cond.holds) {
    record.status = 'skipped';
    record.reason = cond.why;
    ctx.log(`[${index + 1}] skipped (${cond.why}): ${step.say}`);
    ctx.emit({ kind: 'step-started', index, stepId, skipped: true });
    notApplicable(ctx, step, index, stepId, `step skipped: ${cond.why}`);
    return;
  }
  ctx.log(`[${index + 1}] ${step.say}`);
  ctx.emit({ kind: 'step-started', index, stepId, skipped: false });
  const before = (step.expect ?? []).map(samplingBefore);
  const needsVmstat = !!step.record || before.includes('settled');
  const needsBefore = needsVmstat || before.includes('sample');
  if (needsVmstat) await ctx.settledSample();
  else if (needsBefore) await ctx.sample();
  info.before = ctx.state;
  info.start = ctx.now;
  record.start = info.start;

  if (step.kill) {
    try {
      await ctx.target.channel.request({ cmd: 'actor-kill', actor: step.kill.actor, signal: step.kill.signal });
    } catch (err) {
      if (!(err instanceof AgentError)) throw err;
      ctx.stop('precondition', `step ${index + 1} (${stepId}): cannot signal ${step.kill.actor}: ${err.message}`);
    }
    // The guest time of the signal: the agent's latest message when it replied.
    info.end = ctx.now;
    await ctx.sample();
  }
  if (step.do && !ctx.halted()) {
    let started: { id: number } | null = null;
    try {
      started = await ctx.driver.start(step.actor!, ctx.toOp(step.do));
    } catch (err) {
      // The agent refused: the actor died (a signal the kernel sent it?) or the op is not known.
      if (!(err instanceof AgentError)) throw err;
      ctx.stop('precondition', `step ${index + 1} (${stepId}): ${step.actor} cannot run ${step.do.op}: ${err.message}`);
    }
    if (started) {
      info.actionId = started.id;
      ctx.lastStarted.set(step.actor!, { id: started.id, op: step.do.op });
      if (!step.async) await awaitAction(ctx, step, index, stepId, started.id);
    }
  }
  // A failed action is said, kept on the record, and never passes silently.
  const failure: JudgedFailure | null = step.do && !step.async ? judgeAction(ctx, step, index, stepId, record) : null;
  const halted = ctx.halted();
  if (halted) {
    record.reason = halted;
    notApplicable(ctx, step, index, stepId, `not reached: ${halted}`);
    return;
  }
  if (step.watch) {
    const who = step.watch.actor ?? step.actor!;
    try {
      await ctx.driver.watchPages(who, step.watch.pages, step.watch.label);
      await ctx.armRefWatch(step.watch.label, step.watch.pages);
    } catch (err) {
      ctx.stop('precondition', `watching ${step.watch.label} pages ${step.watch.pages.join(',')} of ${who} failed: ${(err as Error).message}`);
      ctx.verdict({ id: `${stepId}.watch`, step: index + 1, stepId, check: 'watch', description: `watch ${step.watch.label}`, status: 'not-applicable', detail: ctx.stopped!.why, evidence: {}, precondition: true });
      notApplicable(ctx, { ...step, waitFor: undefined }, index, stepId, `not reached: ${ctx.stopped!.why}`);
      return;
    }
  }
  if (step.waitFor) {
    const o = await waitUntil(ctx, step.waitFor.until, parseScenarioDuration(step.waitFor.timeout, ctx.vars), stepId);
    const held = o.status === 'held';
    const detail = o.status === 'pending' ? 'pending' : o.detail;
    ctx.verdict({
      id: step.waitFor.until.id ?? `${stepId}.wait`,
      step: index + 1,
      stepId,
      check: step.waitFor.until.check,
      description: `wait until ${describe(step.waitFor.until)} (at most ${typeof step.waitFor.timeout === 'number' ? `${step.waitFor.timeout} ms` : step.waitFor.timeout})`,
      status: held ? 'held' : 'not-applicable',
      detail: held ? detail : `precondition not met: ${detail}`,
      evidence: o.status === 'pending' ? {} : o.evidence,
      precondition: true,
    });
    if (!held) {
      ctx.stop('precondition', `step ${index + 1} (${stepId}): ${describe(step.waitFor.until)} did not come about: ${detail}`);
      notApplicable(ctx, { ...step, waitFor: undefined }, index, stepId, `not reached: ${ctx.stopped!.why}`);
      return;
    }
  }
  if (step.race && !ctx.halted()) {
    try {
      await runRace(ctx, step.race, index, stepId);
    } catch (err) {
      if (!(err instanceof AgentError) && !/race set-up|did not finish within/.test((err as Error).message)) throw err;
      ctx.stop('precondition', `step ${index + 1} (${stepId}): the race could not run: ${(err as Error).message}`);
    }
  }
  for (const [k, p] of (step.expect ?? []).entries()) {
    const id = p.id ?? `${stepId}.${k + 1}`;
    const halted = ctx.halted();
    if (halted) {
      ctx.verdict({ id, step: index + 1, stepId, check: p.check, description: describe(p, { actor: step.actor, op: step.do?.op }), status: 'not-applicable', detail: `not reached: ${halted}`, evidence: {} });
      continue;
    }
    const o = await evaluateUntil(ctx, p, stepId);
    if (o.status === 'pending') continue;
    ctx.verdict({ id, step: index + 1, stepId, check: p.check, description: describe(p, { actor: step.actor, op: step.do?.op }), status: o.status, detail: o.detail, evidence: o.evidence });
  }
  if (step.record && !ctx.halted()) await recordCell(ctx, step, stepId);
  stopAfterUndeclared(ctx, step, index, stepId, failure);
  const action = ctx.stepAction(stepId);
  info.end ??= action?.end ?? ctx.now;
  record.end = info.end;
  if (action) record.action = action.end === null ? null : { ret: action.ret, error: action.error, signal: action.signal, ms: action.ms, result: action.result };
}

async function recordCell(ctx: RunContext, step: Step, stepId: string): Promise<void> {
  const r = step.record!;
  await ctx.settledSample();
  const before = ctx.steps.get(stepId)!.before;
  const prior = before?.pages[r.page];
  const now = ctx.state.pages[r.page];
  const action = ctx.stepAction(stepId);
  const cell = tableCell(action, prior, now, before?.vmstat.latest ?? {}, ctx.state.vmstat.latest);
  const table = (ctx.tables[r.table] ??= { rows: [], columns: [], cells: {} });
  if (!table.rows.includes(r.row)) table.rows.push(r.row);
  if (!table.columns.includes(r.column)) table.columns.push(r.column);
  ((table.cells[r.row] ??= {})[r.column] ??= {})[r.phase] = cell;
  ctx.log(`    ${r.table}[${r.row}][${r.column}] ${r.phase}: ${JSON.stringify(cell)}`);
}
