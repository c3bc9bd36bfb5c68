// Expectations evaluated over the lab state: pure functions of (predicate, state, context).
// The engine calls evaluate() as the state grows until the outcome is no longer
// "pending"; replaying a transcript into the same state gives the same verdicts.
//
// Each check kind is its own module under checks/ (schema piece, words, evaluation, time
// bound, panel); checks/index.ts is their registry. This module is what the engine and
// the tests take from them, with the hang detector's test.
//
// Times are on the guest clock (seconds); durations in predicates are milliseconds.
import type { LabState } from './state.js';

export { describe, evaluate, type DataCheck, type EvalContext, type Outcome, type Status } from './checks/index.js';
export { contextEvidence, pageEvidence, taskEvidence } from './checks/evidence.js';

/** An actor asleep inside an action for longer than the limit, or null. */
export function hangCheck(state: LabState, limitMs: number, actors: readonly string[]): { actor: string; blockedMs: number } | null {
  for (const name of actors) {
    const t = state.actors[name]?.task;
    if (t && t.blockedMs > limitMs) return { actor: name, blockedMs: t.blockedMs };
  }
  return null;
}
