// The hang detector of a run: watches every actor's time asleep inside an action (from the
// snapshots the fold keeps) and, past the scenario's limit, says which task hung, where,
// and stops the run. Its one verdict has the same id and words whether it fired or held.
import { hangCheck, type Status } from '../expect.js';
import { parseScenarioDuration } from '../../config/units.js';
import type { RunContext } from './context.js';

export class HangDetector {
  private found = false;
  /** The longest blockedMs seen per actor (kept as snapshots go by). */
  private readonly maxBlocked = new Map<string, number>();

  constructor(private readonly ctx: RunContext) {}

  /** Check for a hung task; true when the run has been stopped. */
  watch(): boolean {
    const ctx = this.ctx;
    this.noteBlocked();
    const h = ctx.scenario.hangDetector;
    if (h && !this.found) {
      const limit = parseScenarioDuration(h.blockedLongerThan, ctx.vars);
      const hung = hangCheck(ctx.state, limit, ctx.actorNames);
      if (hung) {
        this.found = true;
        const task = ctx.state.actors[hung.actor]?.task;
        this.verdict(
          'violated',
          `${hung.actor} has been asleep inside its ${ctx.subject(hung.actor)?.op ?? 'action'} for ${hung.blockedMs} ms (${task?.state} in ${task?.stack[0] ?? '?'})`,
          { hung: hung.actor, blockedMs: hung.blockedMs, stacks: Object.fromEntries(ctx.actorNames.map((a) => [a, ctx.state.actors[a]?.task?.stack ?? []])) },
        );
        ctx.stop('hang', `${hung.actor} hung (${hung.blockedMs} ms asleep)`);
      }
    }
    return ctx.stopped?.kind === 'hang';
  }

  /** The run's end: the detector held (or could not tell) unless it fired. */
  finish(): void {
    const ctx = this.ctx;
    const h = ctx.scenario.hangDetector;
    if (!h || this.found) return;
    this.noteBlocked();
    const longest = Math.max(0, ...this.maxBlocked.values());
    this.verdict(
      ctx.stopped ? 'not-applicable' : 'held',
      ctx.stopped ? `the run stopped early: ${ctx.stopped.why}` : `the longest sleep inside an action was ${longest} ms`,
      { longestBlockedMs: longest },
    );
  }

  /** The hang detector's one verdict: the same id and words whether it fired or held. */
  private verdict(status: Status, detail: string, evidence: Record<string, unknown>): void {
    this.ctx.verdict({ id: 'no-hang', step: null, stepId: null, check: 'hang-detector', description: hangDescription(this.ctx.scenario.hangDetector!.blockedLongerThan), status, detail, evidence });
  }

  noteBlocked(): void {
    for (const name of this.ctx.actorNames) {
      const ms = this.ctx.state.actors[name]?.task?.blockedMs ?? 0;
      if (ms > (this.maxBlocked.get(name) ?? 0)) this.maxBlocked.set(name, ms);
    }
  }
}

/** The hang detector's verdict says the same words whether it fired or held. */
function hangDescription(limit: number | string): string {
  return `no task blocked longer than ${typeof limit === 'number' ? `${limit} ms` : limit}`;
}
