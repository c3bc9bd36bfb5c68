// daxlab compare <scenario> --profile A --profile B: the scenario on two kernels, one table.
import fs from 'node:fs';
import path from 'node:path';
import { compareRuns, type ComparedRun } from '../lab/compare.js';
import { compareText } from '../screens/compareReport.js';
import { ensureHost } from '../vm/host.js';
import type { Progress } from '../vm/progress.js';
import { listOption, parseCommandArgs, safeName, usageExit, UsageError } from './args.js';
import { consoleProgress } from './output.js';
import { cannotTestError, concurrency, hostResources, loadProfileOutcome, runOnce, type RunOutcome } from './runs.js';
import { parseSeed } from './scenarios.js';

export const COMPARE_USAGE = 'daxlab compare <scenario> --profile A --profile B [--json] [--record DIR] [--seed N]';

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
  const profiles = listOption(values.profile);
  const [scenario, ...extra] = positionals;
  if (!scenario && !values['scenario-file']) return usageExit(COMPARE_USAGE, 'name the scenario to compare (see daxlab list)');
  if (extra.length) return usageExit(COMPARE_USAGE, `unexpected argument "${extra[0]}"`);
  if (profiles.length !== 2) return usageExit(COMPARE_USAGE, `name exactly two profiles with --profile (got ${profiles.length})`);

  // Every profile is checked before anything boots: a typo should not cost a guest run.
  const loaded = profiles.map(loadProfileOutcome);
  const broken = loaded.flatMap((l) => ('outcome' in l ? [l.outcome] : []));
  if (broken.length) {
    for (const b of broken) process.stderr.write(`daxlab: ${b.error}\n`);
    return 125;
  }
  const progress = consoleProgress({ verbose: values.verbose });
  await ensureHost(progress, { install: true });
  const plan = concurrency(
    loaded.map((l) => ('profile' in l ? l.profile : { cpus: 1, memory: '0' })),
    hostResources(),
  );
  process.stderr.write(`daxlab compare: ${scenario ?? values['scenario-file']} on ${profiles.join(' and ')}; ${plan.why}\n`);
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
  const [a, b] = plan.parallel ? await Promise.all([one(profiles[0]!, 'A'), one(profiles[1]!, 'B')]) : [await one(profiles[0]!, 'A'), await one(profiles[1]!, 'B')];
  for (const [tag, o] of [['A', a], ['B', b]] as const) if (o.error) process.stderr.write(`daxlab: ${tag} (${o.label}): ${o.error}\n`);
  const comparison = compareRuns(asCompared(a), asCompared(b));
  const text = compareText(comparison);
  if (record) {
    fs.writeFileSync(path.join(record, 'compare.json'), `${JSON.stringify({ ...comparison, runs: { a, b } }, null, 2)}\n`);
    fs.writeFileSync(path.join(record, 'compare.txt'), text);
  }
  process.stdout.write(values.json ? `${JSON.stringify({ ...comparison, runs: { a, b } }, null, 2)}\n` : `\n${text}`);
  return comparison.exitCode;
}
