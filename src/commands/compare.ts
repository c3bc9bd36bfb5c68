// daxlab compare <scenario> --profile A --profile B: the scenario on two kernels, one table.
import fs from 'node:fs';
import path from 'node:path';
import { compareRuns, type ComparedRun } from '../lab/compare.js';
import { CompareSpecError, loadSavedRun, type SavedRun } from '../screens/compare.js';
import { compareText } from '../screens/compareReport.js';
import { ensureHost } from '../vm/host.js';
import type { Progress } from '../vm/progress.js';
import { parseCommandArgs, safeName, usageExit, UsageError } from './args.js';
import { consoleProgress } from './output.js';
import { cannotTestError, concurrency, hostResources, loadProfileOutcome, runOnce, type RunOutcome } from './runs.js';
import { parseSeed } from './scenarios.js';

export const COMPARE_USAGE = 'daxlab compare <scenario> --profile A --profile B [--json] [--record DIR] [--seed N] [--tui]\n       daxlab compare [<scenario>] --run SAVED --profile B [--tui]   (a saved run: transcript or report)';

type Side = { kind: 'profile'; profile: string } | { kind: 'run'; file: string };

/** The sides in the order the command line names them (--profile and --run may mix). */
export function sidesOf(argv: readonly string[]): Side[] {
  const out: Side[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^(--profile|-p|--run)(?:=(.*))?$/.exec(arg);
    if (!m) continue;
    const value = m[2] ?? argv[++i];
    if (value === undefined) continue;
    for (const v of value.split(',').map((x) => x.trim()).filter(Boolean)) out.push(m[1] === '--run' ? { kind: 'run', file: v } : { kind: 'profile', profile: v });
  }
  return out;
}

function prefixed(progress: Progress, tag: string): Progress {
  return {
    start: (stage, detail) => progress.start(stage, `${tag}: ${detail}`),
    done: (stage, ms, detail) => progress.done(stage, ms, detail ? `${tag}: ${detail}` : tag),
    log: (stage, line) => progress.log(stage, `${tag}: ${line}`),
  };
}

const asCompared = (o: RunOutcome): ComparedRun => ({ label: o.label, report: o.report, exitCode: o.exitCode, ...(o.error ? { error: o.error } : {}) });

export async function compareCommand(argv: string[]): Promise<number> {
  let args;
  let seed: number | undefined;
  try {
    args = parseCommandArgs(argv, {
      profile: { type: 'string', short: 'p', multiple: true },
      run: { type: 'string', multiple: true },
      tui: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      record: { type: 'string' },
      seed: { type: 'string' },
      'scenario-file': { type: 'string' },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (args.values.help) {
      process.stdout.write(`usage: ${COMPARE_USAGE}\n`);
      return 0;
    }
    seed = parseSeed(args.values.seed);
  } catch (err) {
    if (err instanceof UsageError || cannotTestError(err)) return usageExit(COMPARE_USAGE, err.message);
    throw err;
  }
  const { values, positionals } = args;
  const sides = sidesOf(argv);
  const [named, ...extra] = positionals;
  if (extra.length) return usageExit(COMPARE_USAGE, `unexpected argument "${extra[0]}"`);
  if (sides.length !== 2) return usageExit(COMPARE_USAGE, `name exactly two sides: --profile A --profile B, or a saved run (--run FILE) and a profile (got ${sides.length})`);
  // A saved run names its scenario; it must be the one asked for.
  const saved = new Map<number, SavedRun>();
  for (const [i, s] of sides.entries()) {
    if (s.kind !== 'run') continue;
    try {
      saved.set(i, loadSavedRun(s.file));
    } catch (err) {
      if (err instanceof CompareSpecError) return usageExit(COMPARE_USAGE, err.message);
      throw err;
    }
  }
  const ids = [...new Set([named, ...[...saved.values()].map((r) => r.report.scenario.id)].filter((x): x is string => !!x))];
  if (ids.length > 1) return usageExit(COMPARE_USAGE, `the saved run is of ${[...saved.values()][0]!.report.scenario.id}, not ${named}: compare runs of one scenario`);
  const scenario = ids[0];
  if (!scenario && !values['scenario-file']) return usageExit(COMPARE_USAGE, 'name the scenario to compare (see daxlab list)');
  if (values.tui) {
    if (values.json || values.record || values['scenario-file']) return usageExit(COMPARE_USAGE, '--tui shows the compare on screen: without --json, --record or --scenario-file');
    if (!process.stdin.isTTY || !process.stdout.isTTY) return usageExit(COMPARE_USAGE, '--tui needs a terminal (stdin and stdout a TTY); without it the compare prints its table');
    // Ink renders only the last frame when it believes it runs in CI.
    if (process.env.CI) process.env.CI = 'false';
    const { compareTui } = await import('../screens/tui.js');
    return await compareTui({ scenario, sides: [sides[0]!, sides[1]!] });
  }
  const profiles = sides.flatMap((s) => (s.kind === 'profile' ? [s.profile] : []));

  // Every profile is checked before anything boots: a typo should not cost a guest run.
  const loaded = profiles.map(loadProfileOutcome);
  const broken = loaded.flatMap((l) => ('outcome' in l ? [l.outcome] : []));
  if (broken.length) {
    for (const b of broken) process.stderr.write(`daxlab: ${b.error}\n`);
    return 125;
  }
  const progress = consoleProgress({ verbose: values.verbose });
  if (profiles.length) await ensureHost(progress, { install: true });
  const plan = concurrency(
    loaded.map((l) => ('profile' in l ? l.profile : { cpus: 1, memory: '0' })),
    hostResources(),
  );
  const label = (s: Side) => (s.kind === 'profile' ? s.profile : s.file);
  process.stderr.write(`daxlab compare: ${scenario ?? values['scenario-file']} on ${sides.map(label).join(' and ')}; ${profiles.length > 1 ? plan.why : 'one guest'}\n`);
  const record = values.record;
  if (record) fs.mkdirSync(record, { recursive: true });
  const one = (label: string, tag: 'A' | 'B') =>
    runOnce({
      label,
      scenario: scenario ?? '',
      ...(seed !== undefined ? { seed } : {}),
      ...(values['scenario-file'] ? { scenarioFile: values['scenario-file'] } : {}),
      progress: prefixed(progress, tag),
      log: (line) => process.stderr.write(`${tag}: ${line}\n`),
      ...(record ? { record: path.join(record, `${tag.toLowerCase()}-${safeName(label)}`) } : {}),
    });
  // A saved run is read, never run again.
  const side = (i: number): Promise<RunOutcome | ComparedRun> => {
    const s = sides[i]!;
    const tag = i ? 'B' : 'A';
    if (s.kind === 'run') {
      const r = saved.get(i)!;
      return Promise.resolve({ label: s.file, report: { ...r.report, transcript: r.transcript }, exitCode: r.report.exitCode });
    }
    return one(s.profile, tag);
  };
  const [a, b] = plan.parallel ? await Promise.all([side(0), side(1)]) : [await side(0), await side(1)];
  for (const [tag, o] of [['A', a], ['B', b]] as const) if (o.error) process.stderr.write(`daxlab: ${tag} (${o.label}): ${o.error}\n`);
  const compared = (o: RunOutcome | ComparedRun): ComparedRun => ('profile' in o ? asCompared(o) : o);
  const comparison = compareRuns(compared(a), compared(b));
  const text = compareText(comparison);
  if (record) {
    fs.writeFileSync(path.join(record, 'compare.json'), `${JSON.stringify({ ...comparison, runs: { a, b } }, null, 2)}\n`);
    fs.writeFileSync(path.join(record, 'compare.txt'), text);
  }
  process.stdout.write(values.json ? `${JSON.stringify({ ...comparison, runs: { a, b } }, null, 2)}\n` : `\n${text}`);
  return comparison.exitCode;
}
