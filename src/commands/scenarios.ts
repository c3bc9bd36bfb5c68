// daxlab list / run / scenario export: the scenarios, headless.
import fs from 'node:fs';
import path from 'node:path';
import { exportC } from '../lab/exportC.js';
import { runScenario, type RunEvent, type ScenarioReport, type StepRecord, type Verdict } from '../lab/engine.js';
import { formatReport } from '../lab/reportText.js';
import { loadProfile, type Profile } from '../config/profiles.js';
import { describeNeeds, exportScenario, ScenarioError, type Scenario } from '../lab/scenario.js';
import { builtinScenarios, findScenario, loadScenarioFile, profileScenarios, type ScenarioSource } from '../lab/scenarios/index.js';
import { ensureHost } from '../vm/host.js';
import { AgentError } from '../wire/link.js';
import { GuestLostError, GuestSession, interruption } from '../vm/session.js';
import { CannotTestError, InterruptedError, reportError } from '../exit.js';
import { neutralise } from '../config/limits.js';
import { consoleProgress } from './output.js';

/** Exit codes of `daxlab run`, as `git bisect run` reads them. */
export const EXIT = { held: 0, finding: 1, cannotTest: 125, ourBug: 3 } as const;

export type ListEntry = {
  id: string;
  title: string;
  origin: 'built-in' | 'profile';
  threads: Scenario['threads'];
  needs: string[];
  steps: number;
  actors: string[];
};

export function listEntries(profile?: Profile): { entries: ListEntry[]; errors: string[] } {
  const entry = (s: Scenario, origin: ListEntry['origin']): ListEntry => ({
    id: s.id,
    title: s.title,
    origin,
    threads: s.threads,
    needs: describeNeeds(s),
    steps: s.steps.length,
    actors: s.actors.map((a) => a.name),
  });
  const entries = builtinScenarios.map((s) => entry(s, 'built-in'));
  const errors: string[] = [];
  for (const e of profile ? profileScenarios(profile) : []) {
    if ('error' in e) errors.push(e.error.message);
    else entries.push(entry(e.scenario, 'profile'));
  }
  return { entries, errors };
}

export function listCommand(opts: { profile?: string; json: boolean }): number {
  const profile = opts.profile ? loadProfile(opts.profile) : undefined;
  const { entries, errors } = listEntries(profile);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
  } else {
    for (const e of entries) {
      process.stdout.write(`${e.id.padEnd(20)} ${neutralise(e.title)}${e.origin === 'profile' ? '  [profile]' : ''}\n`);
      for (const t of e.threads) process.stdout.write(`${''.padEnd(20)}   ${t.year ?? ''} ${neutralise(t.subject)}${t.messageId ? ` ${t.messageId}` : ''}\n`);
      if (e.needs.length) process.stdout.write(`${''.padEnd(20)}   needs: ${e.needs.join(', ')}\n`);
    }
  }
  for (const err of errors) process.stderr.write(`daxlab: ${err}\n`);
  return errors.length ? EXIT.cannotTest : 0;
}

export function exportCommand(opts: { id: string; profile?: string; scenarioFile?: string; format?: string; out?: string }): number {
  const scenario = opts.scenarioFile ? loadScenarioFile(opts.scenarioFile) : findScenario(opts.id, opts.profile ? loadProfile(opts.profile) : undefined).scenario;
  const format = opts.format ?? 'json';
  if (format === 'json') {
    process.stdout.write(exportScenario(scenario));
    return 0;
  }
  if (format !== 'c') {
    process.stderr.write(`daxlab: --format ${format}: the formats are json (the scenario schema) and c (a standalone reproducer)\n`);
    return 2;
  }
  const c = exportC(scenario);
  if (!c.ok) {
    process.stderr.write(`daxlab: ${scenario.id} cannot be exported as C: ${c.why}\n`);
    return EXIT.cannotTest;
  }
  const dir = opts.out ?? '.';
  fs.mkdirSync(dir, { recursive: true });
  const cFile = path.join(dir, `${scenario.id}.c`);
  const shFile = path.join(dir, `${scenario.id}.sh`);
  fs.writeFileSync(cFile, c.c);
  fs.writeFileSync(shFile, c.sh, { mode: 0o755 });
  process.stdout.write(`${cFile}\n${shFile}\n`);
  process.stderr.write(`build: gcc -Wall -Wextra -O2 -o ${scenario.id} ${cFile}; run as root: sh ${shFile} (sets up pmem, the dax mount${scenario.needs.nullBlk ? ', null_blk' : ''})\n`);
  if (c.unchecked.length) process.stderr.write(`not checked from user space (${c.unchecked.length}):\n${c.unchecked.map((u) => `  ${u}`).join('\n')}\n`);
  return 0;
}

/** Resolve what to run before anything boots: unknown ids and broken files fail fast. */
export function resolveRun(opts: { id?: string; scenarioFile?: string }, profile: Profile): { scenario: Scenario; source: ScenarioSource } {
  if (opts.scenarioFile) {
    const scenario = loadScenarioFile(opts.scenarioFile);
    if (opts.id && opts.id !== scenario.id) {
      const problem = `${opts.scenarioFile} holds scenario "${scenario.id}", not "${opts.id}"`;
      throw new ScenarioError(opts.scenarioFile, [problem], problem);
    }
    return { scenario, source: { origin: 'file', location: opts.scenarioFile } };
  }
  if (!opts.id) {
    const problem = 'name a scenario: daxlab run <id> (see daxlab list), or --scenario-file F';
    throw new ScenarioError('(none)', [problem], problem);
  }
  return findScenario(opts.id, profile);
}

export function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) {
    const problem = `--seed "${text}" is not a seed: an integer in [0, 2^32)`;
    throw new ScenarioError('--seed', [problem], problem);
  }
  return Number(text);
}

export async function runCommand(opts: {
  id?: string;
  profile: string;
  json: boolean;
  verbose: boolean;
  record?: string;
  seed?: string;
  scenarioFile?: string;
}): Promise<number> {
  const progress = consoleProgress({ verbose: opts.verbose });
  const profile = loadProfile(opts.profile);
  let resolved: { scenario: Scenario; source: ScenarioSource };
  let seed: number | undefined;
  try {
    resolved = resolveRun(opts, profile);
    seed = parseSeed(opts.seed);
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err;
    process.stderr.write(`daxlab: ${err.message}\n`);
    return EXIT.cannotTest;
  }
  const { scenario } = resolved;
  await ensureHost(progress, { install: true });
  const session = await GuestSession.boot(profile, { progress });
  let report: ScenarioReport;
  const sofar: RunEvent[] = [];
  // What ran so far stays in the run directory; --record gets it even when the run failed.
  const keepRecord = () => {
    if (!opts.record || !fs.existsSync(session.transcript)) return null;
    fs.copyFileSync(session.transcript, opts.record);
    return opts.record;
  };
  try {
    process.stderr.write(`\n${scenario.id}: ${neutralise(scenario.title)}\n`);
    for (const t of scenario.threads) process.stderr.write(`  from "${neutralise(t.subject)}"${t.messageId ? ` ${t.messageId}` : ''}\n`);
    // A guest lost mid-run (stopped, killed, hung) ends the run at once: could not test;
    // what ran until then is kept (the steps and verdicts so far, and the transcript).
    report = await Promise.race([
      runScenario(session, scenario, { seed, log: (line) => process.stderr.write(`${line}\n`), onEvent: (e) => sofar.push(e) }),
      session.lost,
    ]);
  } catch (err) {
    // The channel closed under the engine: QEMU died, and its exit is about to say so.
    if (session.channel?.closed && !session.lostSignal.aborted) await Promise.race([session.lost.catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
    await session.shutdown();
    const kept = keepRecord();
    const stop = interruption();
    const unreadable = err instanceof AgentError && err.stage === 'kernel-unreadable';
    const why = stop
      ? new InterruptedError(stop)
      : session.lostSignal.aborted
        ? (session.lostSignal.reason as GuestLostError)
        : unreadable
          ? new CannotTestError(`could not test ${scenario.id}: the agent cannot read this kernel's state: ${err.message.replace(/^kernel-unreadable: /, '')}`)
          : err;
    const code = reportError(why, { verbose: opts.verbose, context: `while running ${scenario.id}` });
    const partial = session.lostSignal.aborted ? keepPartialReport(session.runDir, scenario, sofar, why as Error) : null;
    if (partial && opts.json) process.stdout.write(`${JSON.stringify(partial.report, null, 2)}\n`);
    else if (partial) process.stdout.write(`\n${partial.text}\n`);
    process.stderr.write(`daxlab: the run's console log and transcript are in ${session.runDir}${partial ? ` (what ran so far: ${partial.file})` : ''}${kept ? `; recorded to ${kept}` : ''}\n`);
    return code;
  } finally {
    await session.shutdown();
  }
  if (interruption()) throw new InterruptedError(interruption()!);
  const record = keepRecord();
  const out = { ...report, source: resolved.source, runDir: session.runDir, record };
  process.stdout.write(opts.json ? `${JSON.stringify(out, null, 2)}\n` : `\n${formatReport(report)}\n`);
  return report.exitCode;
}

/** What a run lost mid-way had done: its steps and verdicts until then. Not a verdict: could not test. */
export type PartialReport = {
  scenario: { id: string; title: string };
  partial: true;
  verdict: 'cannot-test';
  exitCode: 125;
  cannotTest: string;
  steps: StepRecord[];
  /** The step that had begun and not ended when the guest was lost. */
  inProgress: { index: number; stepId: string } | null;
  expectations: Verdict[];
  /** Violated before the guest was lost: evidence to look at, but the run as a whole could not test. */
  violatedBeforeLoss: string[];
};

export function partialReport(scenario: Scenario, events: readonly RunEvent[], why: string): PartialReport {
  const steps = events.flatMap((e) => (e.kind === 'step-ended' ? [e.record] : []));
  const expectations = events.flatMap((e) => (e.kind === 'verdict' ? [e.verdict] : []));
  const started = events.filter((e): e is Extract<RunEvent, { kind: 'step-started' }> => e.kind === 'step-started').at(-1);
  const inProgress = started && !steps.some((st) => st.step === started.index + 1) ? { index: started.index, stepId: started.stepId } : null;
  return {
    scenario: { id: scenario.id, title: scenario.title },
    partial: true,
    verdict: 'cannot-test',
    exitCode: 125,
    cannotTest: why,
    steps,
    inProgress,
    expectations,
    violatedBeforeLoss: expectations.filter((v) => v.status === 'violated').map((v) => v.id),
  };
}

export function formatPartialReport(r: PartialReport): string {
  const lines = [`${r.scenario.id}: ${neutralise(r.scenario.title)} — the guest was lost; what ran until then:`];
  if (!r.steps.length) lines.push('  (no step had ended)');
  for (const st of r.steps) {
    const a = st.action;
    const outcome = a ? (a.error || a.signal ? ` failed: ${a.error ?? a.signal}` : ' ok') : '';
    lines.push(`  [${st.step}] ${st.id}: ${st.status}${st.op ? ` (${st.actor} ${st.op}${outcome})` : ''}${st.reason ? ` — ${st.reason}` : ''}`);
  }
  if (r.inProgress) lines.push(`  [${r.inProgress.index + 1}] ${r.inProgress.stepId}: running when the guest was lost`);
  for (const v of r.expectations) lines.push(`      ${v.status === 'held' ? 'held    ' : v.status === 'violated' ? 'VIOLATED' : 'n/a     '} ${v.id}: ${v.description} — ${v.detail}`);
  if (r.violatedBeforeLoss.length) lines.push(`  violated before the loss: ${r.violatedBeforeLoss.join(', ')} (the run as a whole could not test)`);
  lines.push(`verdict: cannot-test (exit 125): ${r.cannotTest}`);
  return lines.join('\n');
}

function keepPartialReport(runDir: string, scenario: Scenario, events: readonly RunEvent[], why: Error): { report: PartialReport; text: string; file: string } | null {
  const report = partialReport(scenario, events, why.message.split('\n')[0]!);
  const file = `${runDir}/report.partial.json`;
  try {
    fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  } catch {
    return null;
  }
  return { report, text: formatPartialReport(report), file };
}

/** The CLI's entry for list / run / scenario export (src/cli.ts parses the options). */
export async function scenariosCommand(
  command: 'list' | 'run' | 'scenario',
  args: string[],
  values: { profile?: string; json?: boolean; verbose?: boolean; record?: string; seed?: string; 'scenario-file'?: string; format?: string; out?: string },
  argv: string[],
): Promise<number> {
  const profileNamed = argv.some((a) => a === '--profile' || a === '-p' || a.startsWith('--profile='));
  try {
    if (command === 'list') return listCommand({ ...(profileNamed ? { profile: values.profile } : {}), json: !!values.json });
    if (command === 'scenario') {
      if (args[0] !== 'export' || (!args[1] && !values['scenario-file'])) {
        process.stderr.write('usage: daxlab scenario export <id> [--profile P] [--format json|c] [-o DIR]\n');
        return 2;
      }
      return exportCommand({
        id: args[1] ?? '',
        ...(profileNamed ? { profile: values.profile } : {}),
        ...(values['scenario-file'] ? { scenarioFile: values['scenario-file'] } : {}),
        ...(values.format ? { format: values.format } : {}),
        ...(values.out ? { out: values.out } : {}),
      });
    }
    return await runCommand({
      ...(args[0] ? { id: args[0] } : {}),
      profile: values.profile ?? 'default',
      json: !!values.json,
      verbose: !!values.verbose,
      ...(values.record ? { record: values.record } : {}),
      ...(values.seed !== undefined ? { seed: values.seed } : {}),
      ...(values['scenario-file'] ? { scenarioFile: values['scenario-file'] } : {}),
    });
  } catch (err) {
    if (err instanceof ScenarioError) {
      process.stderr.write(`daxlab: ${err.message}\n`);
      return EXIT.cannotTest;
    }
    throw err;
  }
}
