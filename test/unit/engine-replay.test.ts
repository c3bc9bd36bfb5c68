// A recorded run of dma-vs-truncate on the Debian 6.1 kernel (daxlab run --record): its
// transcript, folded by the same reducer, gives back the finding the report made: the
// evidence is derivable from the messages, and the verdict re-evaluates the same way.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, type EvalContext } from '../../src/lab/expect.js';
import { replayTranscript } from '../../src/wire/transcript.js';
import { findScenario } from '../../src/lab/scenarios/index.js';
import { reduceAll, type ActionRecord, type LabState } from '../../src/lab/state.js';

const dir = path.resolve(import.meta.dirname, '../fixtures');
const transcript = path.join(dir, 'dma-vs-truncate-xfs.jsonl');
type Evidence = { page: { history: Array<{ t: number; ref: number; aboveIdle: number; pins: number }>; idleSince: number }; times: { reference: number; deadline: number; now: number } };
const report = JSON.parse(fs.readFileSync(path.join(dir, 'dma-vs-truncate-xfs.report.json'), 'utf8')) as {
  exitCode: number;
  kernel: { release: string; fsdaxIdleRefcount: number };
  findings: Array<{ expectation: string; evidence: Evidence }>;
};

function ctxAt(state: LabState, truncate: ActionRecord): EvalContext {
  return {
    state,
    now: state.lastT ?? 0,
    start: truncate.start ?? 0,
    stepStart: truncate.start ?? 0,
    stepBegan: () => null,
    stepId: 'wake',
    stepAction: () => null,
    stepEnd: () => null,
    before: () => undefined,
    subject: () => state.actions.find((a) => a.id === truncate.id) ?? null,
    vars: { 'lease-break-time': 5 },
    dataChecks: [],
    conditions: { fs: 'xfs', release: report.kernel.release, available: { devdax: true, rdma: false, nullBlk: true }, busy: () => true, succeeded: () => true, failed: () => false },
  };
}

describe('a recorded dma-vs-truncate run (6.1, xfs)', () => {
  const replay = replayTranscript(transcript);
  const finding = report.findings[0]!;

  it('replays cleanly and is the run that reported the missing wake-up', () => {
    expect(replay.problems).toEqual([]);
    expect(report.exitCode).toBe(1);
    expect(finding.expectation).toBe('truncate-woken');
  });

  it("the report's refcount history is what the transcript folds into", () => {
    const state = reduceAll(replay.messages);
    const changes = state.refHistory['victim#0']!.changes.map((s) => ({ t: Math.round(s.t * 1000) / 1000, ref: s.ref, aboveIdle: s.aboveIdle, pins: s.pins }));
    expect(changes.slice(0, finding.evidence.page.history.length)).toEqual(finding.evidence.page.history);
    const idle = report.kernel.fsdaxIdleRefcount;
    expect(finding.evidence.page.history.map((h) => h.ref)).toEqual([idle, idle + 1, idle]);
  });

  it('folded up to the moment of the finding, the wake-up check is violated again, from the same reference time', () => {
    // The evidence rounds guest times to the millisecond.
    const upTo = replay.messages.filter((m) => m.t <= finding.evidence.times.now + 0.001);
    const state = reduceAll(upTo);
    const truncate = state.actions.find((a) => a.actor === 'truncator' && a.op === 'truncate')!;
    expect(truncate.end).toBeNull();
    expect(state.actors.truncator!.task!.stack[0]).toMatch(/xfs_break_dax_layouts/);
    const check = findScenario('dma-vs-truncate').scenario.steps.find((s) => s.id === 'wake')!.expect![0]!;
    const o = evaluate(check, ctxAt(state, truncate));
    expect(o.status).toBe('violated');
    expect((o as unknown as { evidence: Evidence }).evidence.times.reference).toBe(finding.evidence.times.reference);
  });

  it('the whole transcript: after the signal the truncate returned at once', () => {
    const state = reduceAll(replay.messages);
    const truncate = state.actions.find((a) => a.actor === 'truncator' && a.op === 'truncate')!;
    const signal = replay.messages.find((m) => m.kind === 'command' && m.command.cmd === 'actor-kill' && 'signal' in m.command && m.command.signal === 'SIGUSR1');
    expect(signal).toBeDefined();
    expect(truncate.ret).toBe(0);
    expect(truncate.end! - signal!.t).toBeLessThan(1);
  });
});
