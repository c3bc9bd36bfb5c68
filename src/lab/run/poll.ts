// Polling the guest until something is known, with the hang detector watching meanwhile:
// an action's end (or its hang), an expectation's outcome, a precondition coming about.
// Host-side deadlines bound every loop, so a guest whose clock stops cannot stall a run.
import { setTimeout as sleep } from 'node:timers/promises';
import { boundMs, wantsSettled } from '../checks/index.js';
import { contextEvidence, evaluate, type Outcome } from '../expect.js';
import { ACTION_TIMEOUT, type Predicate, type Step } from '../scenario.js';
import { parseScenarioDuration } from '../../config/units.js';
import type { RunContext } from './context.js';

/** Host-side slack on top of a predicate's own bound (the guest clock moves with snapshots). */
const SLACK_MS = 15_000;

/** Wait for a started action to end; past the step's timeout it is a violated "returns" and the run stops. */
export async function awaitAction(ctx: RunContext, step: Step, index: number, stepId: string, actionId: number): Promise<void> {
  const limitMs = parseScenarioDuration(step.timeout ?? ACTION_TIMEOUT, ctx.vars);
  const deadline = Date.now() + limitMs;
  for (;;) {
    const rec = ctx.state.actions.find((a) => a.id === actionId);
    if (rec?.end != null) {
      ctx.steps.get(stepId)!.end = rec.end;
      return;
    }
    if (ctx.hang.watch()) return;
    if (Date.now() > deadline) {
      await ctx.sample();
      ctx.verdict({
        id: `${stepId}.returns`,
        step: index + 1,
        stepId,
        check: 'returns',
        description: `${step.actor}'s ${step.do!.op} returns within ${typeof (step.timeout ?? ACTION_TIMEOUT) === 'number' ? `${step.timeout} ms` : (step.timeout ?? ACTION_TIMEOUT)}`,
        status: 'violated',
        detail: `it had not returned after ${limitMs} ms`,
        evidence: {},
      });
      ctx.stop('hang', `${step.actor}'s ${step.do!.op} did not return`);
      return;
    }
    await sleep(20);
  }
}

/** How long (host time) a predicate may stay pending: its own bound and the slack. */
function capMs(ctx: RunContext, p: Predicate): number {
  return boundMs(p, ctx.vars) + SLACK_MS;
}

/** Evaluate until the outcome is known; the hang detector runs meanwhile. */
export async function evaluateUntil(ctx: RunContext, p: Predicate, stepId: string): Promise<Outcome> {
  if (wantsSettled(p)) await ctx.settledSample();
  else await ctx.sample();
  const start = ctx.now;
  const deadline = Date.now() + capMs(ctx, p);
  for (;;) {
    const o = evaluate(p, ctx.evalContext(stepId, start));
    if (o.status !== 'pending') return o;
    if (ctx.hang.watch()) return { status: 'not-applicable', detail: `the run stopped: ${ctx.stopped!.why}`, evidence: {} };
    if (Date.now() > deadline) {
      return { status: 'not-applicable', detail: `undecided after ${capMs(ctx, p)} ms of host time: the guest clock did not advance (no snapshots?)`, evidence: contextEvidence(ctx.state, ctx.actorNames, start) };
    }
    await sleep(40);
  }
}

/** A precondition: poll (with fresh snapshots) until it holds or the timeout passes. */
export async function waitUntil(ctx: RunContext, p: Predicate, timeoutMs: number, stepId: string): Promise<Outcome> {
  const start = ctx.now;
  const deadline = Date.now() + timeoutMs + SLACK_MS;
  let last: Outcome = { status: 'pending' };
  for (;;) {
    await ctx.sample();
    last = evaluate(p, ctx.evalContext(stepId, start));
    if (last.status === 'held' || last.status === 'not-applicable') return last;
    if (ctx.hang.watch()) return { status: 'not-applicable', detail: `the run stopped: ${ctx.stopped!.why}`, evidence: {} };
    if (ctx.now - start > timeoutMs / 1000 || Date.now() > deadline) return last.status === 'pending' ? { status: 'violated', detail: 'it did not happen in time', evidence: {} } : last;
    await sleep(50);
  }
}
