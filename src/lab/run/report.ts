// A run's report, made once at its end from the run's state: the verdict (held, finding,
// cannot test) and its exit code for git bisect run (0, 1, 125), every expectation, the
// findings with evidence, the steps, tables, measurements, clean-up and the actors; and
// the probes' hit counts, read before clean-up.
import type { ProbeHits } from '../era.js';
import type { RunContext } from './context.js';
import type { ScenarioReport } from './types.js';

/** How often each lab kprobe fired in this run: "attached, fired N times" (kprobe_profile). */
export async function recordProbeHits(ctx: RunContext): Promise<void> {
  if (!ctx.traced) return;
  try {
    const hits = (await ctx.target.channel.request({ cmd: 'probe-hits' })) as ProbeHits;
    ctx.measurements.probeHits = Object.fromEntries(hits.probes.filter((p) => (ctx.traced?.kprobes ?? []).includes(p.name)).map((p) => [p.name, p.hits]));
  } catch {
    // an agent without the command, or a guest gone: the run's verdicts do not depend on it
  }
}

export function buildReport(ctx: RunContext, cleanup: ScenarioReport['cleanup'], durationMs: number): ScenarioReport {
  const s = ctx.scenario;
  const preconditionFailed = ctx.verdicts.some((v) => v.precondition && v.status !== 'held');
  // A run that stopped early tested only part of what it says: unless an expectation was
  // violated on the way (a finding), it could not test. A mistake of the scenario's is
  // 125 whatever else was seen: its findings rest on a request the kernel rightly refused.
  const cannot =
    ctx.scenarioMistake ?? ctx.cannotTest ?? (preconditionFailed ? ctx.stopped?.why ?? 'a precondition did not come about' : ctx.stopped?.why ?? null);
  const exitCode = ctx.scenarioMistake ? 125 : ctx.findings.length ? 1 : cannot ? 125 : 0;
  if (Object.keys(ctx.state.contention).length) ctx.measurements.contention = ctx.state.contention;
  if (ctx.refWatch) ctx.measurements.putPath = ctx.putPaths();
  ctx.measurements.snapshots = { taken: ctx.state.snapshotCount, missed: ctx.state.missedSnapshots, dropped: ctx.state.dropped };
  return {
    scenario: { id: s.id, title: s.title, summary: s.summary, threads: s.threads, era: s.era },
    kernel: { release: ctx.target.ready.release, version: ctx.target.ready.version, fsdaxIdleRefcount: ctx.idleBaseline, devdaxIdleRefcount: ctx.devdaxIdle },
    profile: { name: ctx.target.profile.name, fs: ctx.target.hello.mount.fstype },
    seed: ctx.seed,
    verdict: exitCode === 1 ? 'finding' : exitCode === 125 ? 'cannot-test' : 'held',
    exitCode,
    cannotTest: cannot,
    expectations: ctx.verdicts,
    findings: ctx.findings,
    steps: ctx.stepRecords,
    tables: ctx.tables,
    measurements: ctx.measurements,
    available: { ...ctx.available },
    cleanup,
    actors: { ...ctx.pids },
    dirs: ctx.dirs,
    transcript: ctx.target.transcript ?? null,
    durationMs,
  };
}
