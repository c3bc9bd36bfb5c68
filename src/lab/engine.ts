// The scenario engine: runs a scenario on a booted guest through the LabDriver, folds every
// message into the lab state (state.ts, fed by followChannel) and evaluates each
// expectation over that state into a verdict: held, violated or not-applicable.
//
// A violated expectation is a finding about the kernel, reported with its evidence
// (refcount history, lock states, stacks, events, timestamps) and never retried away.
// A precondition that does not come about (a wait that times out, a part of the lab the
// kernel cannot provide) makes the rest of the run not-applicable: "could not test".
// However a run ends, every actor is killed and reaped; an actor that cannot be ended is
// itself reported, and the caller is told the guest is no longer fit for another run.
//
// This file is the run's order of business; each concern has its module under run/:
// the run's shared state (context.ts), guest preparation (prepare.ts, with ../guestPrep.ts),
// a step (steps.ts), polling (poll.ts), the hang detector (hang.ts), the race runner
// (race.ts), clean-up (cleanup.ts), the report (report.ts) and the types (types.ts).
// Elsewhere: op translation (../../wire/ops.ts), tables (../tables.ts), the text report
// (../reportText.ts), the trace set (../trace.ts).
import { RunContext } from './run/context.js';
import { cleanup as cleanUp } from './run/cleanup.js';
import { prepare } from './run/prepare.js';
import { buildReport, recordProbeHits } from './run/report.js';
import { runStep } from './run/steps.js';
import { judgeEnded } from './run/actionFailure.js';
import type { LabTarget, RunOptions, ScenarioReport } from './run/types.js';
import type { Scenario } from './scenario.js';

export type { Finding, LabTarget, RunEvent, RunOptions, ScenarioReport, StepHook, StepRecord, Table, TableCell, Verdict } from './run/types.js';

/** Run a scenario on a booted guest. Throws only for our own bugs; the kernel's misdeeds are verdicts. */
export async function runScenario(target: LabTarget, scenario: Scenario, opts: RunOptions = {}): Promise<ScenarioReport> {
  const ctx = new RunContext(target, scenario, opts);
  const began = performance.now();
  ctx.follow();
  let cleanup: ScenarioReport['cleanup'] = { killed: [], stuck: [], guestReusable: true, notes: [] };
  try {
    await prepare(ctx);
    ctx.runStart = ctx.now;
    if (!ctx.cannotTest) {
      for (const [index, step] of scenario.steps.entries()) {
        await runStep(ctx, step, index);
        const record = ctx.stepRecords[ctx.stepRecords.length - 1]!;
        ctx.emit({ kind: 'step-ended', index, record });
        await opts.afterStep?.({
          stepId: record.id,
          index,
          status: record.status,
          pids: ctx.pids,
          dirs: ctx.dirs,
          verdicts: ctx.verdicts,
          state: ctx.state,
          report: () => ({ measurements: ctx.measurements, tables: ctx.tables }),
        });
      }
      // An async action that failed after the last step began is judged too.
      judgeEnded(ctx);
      ctx.hang.finish();
    }
  } finally {
    await recordProbeHits(ctx);
    try {
      cleanup = await cleanUp(ctx);
    } finally {
      ctx.detach();
    }
  }
  const report = buildReport(ctx, cleanup, Math.round(performance.now() - began));
  ctx.emit({ kind: 'run-ended', report });
  return report;
}
