// daxlab bisect <scenario> --good A --bad B: binary search over Debian's released kernels
// of one flavour (download, boot, run; 125 skips), or with --tree over a kernel tree's
// commits through `git bisect run` with the lab as the script. Every step's run is kept.
import fs from 'node:fs';
import path from 'node:path';
import { validateProfile, type Profile } from '../config/profiles.js';
import { BisectError, bisectExit, describeAnswer, maxSteps, nextStep, parseImageName, releasesBetween, type BisectAnswer, type Release, type StepResult } from '../lab/bisect.js';
import { paths } from '../paths.js';
import { ensureHost } from '../vm/host.js';
import type { Progress } from '../vm/progress.js';
import { parseCommandArgs, safeName, usageExit, UsageError } from './args.js';
import { bisectTree } from './bisectTree.js';
import { consoleProgress } from './output.js';
import { cannotTestError, loadProfileOutcome, runOnce, type RunOutcome } from './runs.js';
import { parseSeed } from './scenarios.js';
import { openKernelIndex, type KernelIndex } from './kernelIndex.js';

export const BISECT_USAGE = `daxlab bisect <scenario> --good A --bad B [--suite S] [--profile P] [--out DIR] [--json] [--seed N]
         A, B: kernel image packages (linux-image-6.12.43+deb12-amd64) or profiles naming them
       daxlab bisect <scenario> --tree DIR --good REV --bad REV [--profile P] [--out DIR]`;

type Side = { package: string; profile: Profile | null };

/** A --good / --bad value: a versioned image package, or a profile whose kernel is one (or a metapackage apt resolves). */
async function resolveSide(value: string, index: KernelIndex | null): Promise<Side> {
  if (parseImageName(value)) return { package: value, profile: null };
  const loaded = loadProfileOutcome(value);
  if ('outcome' in loaded) throw new BisectError(`${value} is neither a kernel image package (linux-image-6.12.43+deb12-amd64) nor a profile: ${loaded.outcome.error}`);
  const kernel = loaded.profile.kernel;
  if (kernel.source !== 'debian') throw new BisectError(`profile ${value} boots a ${kernel.source} kernel: bisect over released kernels needs Debian packages (or use --tree)`);
  if (parseImageName(kernel.package)) return { package: kernel.package, profile: loaded.profile };
  const resolved = index ? await index.resolveImage(kernel.package) : null;
  if (!resolved) throw new BisectError(`profile ${value} names ${kernel.package}, which apt does not resolve to a versioned image package`);
  return { package: resolved, profile: loaded.profile };
}

function suiteOf(profile: Profile | null): string | null {
  const kernel = profile?.kernel as { source: string; suite?: string } | undefined;
  return kernel?.source === 'debian' ? (kernel.suite ?? null) : null;
}

/** The profile one step runs: the template's guest, the release's kernel. */
export function stepProfile(template: Profile, release: Release, suite: string): Profile {
  const name = safeName(`bisect-${release.upstream}`).toLowerCase();
  return validateProfile({ ...template, name, description: `bisect step: ${release.package} ${release.version}`, kernel: { source: 'debian', package: release.package, suite } }, `bisect step ${release.package}`);
}

type StepRecord = { step: number; release: Release; exitCode: number; verdict: string; findings: string[]; error?: string; files: string; seconds: number };

function describeOutcome(o: RunOutcome): { verdict: string; findings: string[] } {
  const findings = o.report?.findings.map((f) => f.expectation) ?? [];
  const verdict = o.exitCode === 0 ? 'held' : o.exitCode === 1 ? `finding: ${findings.join(', ')}` : o.exitCode === 125 ? `could not test (skip): ${o.error ?? o.report?.cannotTest ?? ''}` : `daxlab failed: ${o.error ?? ''}`;
  return { verdict, findings };
}

export async function bisectCommand(argv: string[]): Promise<number> {
  let args;
  let seed: number | undefined;
  try {
    args = parseCommandArgs(argv, {
      good: { type: 'string' },
      bad: { type: 'string' },
      suite: { type: 'string' },
      profile: { type: 'string', short: 'p' },
      tree: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    seed = parseSeed(args.values.seed);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof Error && err.name === 'ScenarioError')) return usageExit(BISECT_USAGE, err.message);
    throw err;
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(`usage: ${BISECT_USAGE}\n`);
    return 0;
  }
  const [scenario, ...extra] = positionals;
  if (!scenario) return usageExit(BISECT_USAGE, 'name the scenario to bisect with (see daxlab list)');
  if (extra.length) return usageExit(BISECT_USAGE, `unexpected argument "${extra[0]}"`);
  if (!values.good || !values.bad) return usageExit(BISECT_USAGE, 'name both ends: --good A --bad B');
  const outDir = values.out ?? path.join(paths.state, 'bisect', new Date().toISOString().replace(/[:.]/g, '-'));
  fs.mkdirSync(outDir, { recursive: true });
  const progress = consoleProgress({ verbose: values.verbose });
  const say = (line: string) => process.stderr.write(`${line}\n`);

  if (values.tree) {
    return bisectTree({ scenario, tree: values.tree, good: values.good, bad: values.bad, profile: values.profile ?? 'default', outDir, say, ...(seed !== undefined ? { seed } : {}) });
  }

  let releases: Release[];
  let template: Profile;
  let suite: string;
  try {
    const templateOutcome = values.profile ? loadProfileOutcome(values.profile) : null;
    if (templateOutcome && 'outcome' in templateOutcome) throw new BisectError(templateOutcome.outcome.error ?? `cannot load ${values.profile}`);
    const pre = await Promise.all([values.good, values.bad].map((v) => resolveSide(v, null).catch(() => null)));
    suite = values.suite ?? suiteOf(templateOutcome?.profile ?? null) ?? suiteOf(pre[0]?.profile ?? null) ?? suiteOf(pre[1]?.profile ?? null) ?? '';
    if (!suite) throw new BisectError('name the Debian suite the packages come from: --suite bookworm-backports (or a profile whose kernel names its suite)');
    const index = await openKernelIndex(suite, progress);
    const [good, bad] = await Promise.all([resolveSide(values.good, index), resolveSide(values.bad, index)]);
    template = templateOutcome?.profile ?? good!.profile ?? bad!.profile ?? loadProfileOrThrow('default');
    const names = await index.imagePackages();
    const versions = await index.versions(names.filter((n) => parseImageName(n)));
    releases = releasesBetween(names, versions, good!.package, bad!.package);
    if (releases.length < 2) throw new BisectError(`${good!.package} and ${bad!.package} are the same release: nothing to bisect`);
  } catch (err) {
    if (err instanceof BisectError || cannotTestError(err)) {
      process.stderr.write(`daxlab: ${err.message}\n`);
      return 125;
    }
    throw err;
  }

  say(`daxlab bisect: ${scenario} over ${releases.length} released kernels of Debian ${suite}, ${releases[0]!.package} .. ${releases[releases.length - 1]!.package}; at most ${maxSteps(releases.length)} runs; each step's files in ${outDir}`);
  for (const r of releases) say(`  ${r.package} ${r.version}`);
  await ensureHost(progress, { install: true });
  const results: StepResult[] = [];
  const steps: StepRecord[] = [];
  let answer: BisectAnswer;
  for (;;) {
    const next = nextStep(releases.length, results);
    if ('done' in next) {
      answer = next.done;
      break;
    }
    const release = releases[next.test]!;
    const n = steps.length + 1;
    const files = path.join(outDir, `step-${n}-${safeName(release.package)}`);
    const tag = `[step ${n}/<=${maxSteps(releases.length)}] ${release.package} (${release.version}, ${next.why})`;
    say(`${tag} ...`);
    const began = Date.now();
    const logLines: string[] = [];
    let outcome: RunOutcome;
    try {
      outcome = await runOnce({ label: release.package, profile: stepProfile(template, release, suite), scenario, progress: quietProgress(progress, logLines), log: (l) => logLines.push(l), record: files, ...(seed !== undefined ? { seed } : {}) });
    } catch (err) {
      outcome = { label: release.package, profile: null, exitCode: 125, report: null, error: (err as Error).message };
    }
    fs.writeFileSync(`${files}.log`, `${logLines.join('\n')}\nexit ${outcome.exitCode}${outcome.error ? `: ${outcome.error}` : ''}\n`);
    if (!outcome.report) fs.writeFileSync(`${files}.json`, `${JSON.stringify({ exitCode: outcome.exitCode, error: outcome.error ?? 'no report' }, null, 2)}\n`);
    const { verdict, findings } = describeOutcome(outcome);
    const seconds = Math.round((Date.now() - began) / 1000);
    say(`${tag}: ${verdict} (exit ${outcome.exitCode}, ${seconds} s)`);
    results.push({ index: next.test, exitCode: outcome.exitCode });
    steps.push({ step: n, release, exitCode: outcome.exitCode, verdict, findings, ...(outcome.error ? { error: outcome.error } : {}), files, seconds });
  }
  const lines = describeAnswer(releases, answer);
  const summary = { scenario, suite, releases, steps, answer, text: lines, exitCode: bisectExit(answer) };
  fs.writeFileSync(path.join(outDir, 'bisect.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : `\n${lines.join('\n')}\nsteps: ${steps.map((s) => `${s.release.upstream}=${s.exitCode}`).join(' ')}; files in ${outDir}\n`);
  return summary.exitCode;
}

function loadProfileOrThrow(name: string): Profile {
  const l = loadProfileOutcome(name);
  if ('outcome' in l) throw new BisectError(l.outcome.error ?? `cannot load ${name}`);
  return l.profile;
}

/** Stage lines of a step go to its log; only the kernel download is shown (it is the slow part). */
function quietProgress(progress: Progress, log: string[]): Progress {
  return {
    start: (stage, detail) => (stage === 'kernel' ? progress.start(stage, detail) : log.push(`[${stage}] ${detail}`)),
    done: (stage, ms, detail) => (stage === 'kernel' ? progress.done(stage, ms, detail) : log.push(`[${stage}] done in ${(ms / 1000).toFixed(1)} s${detail ? `: ${detail}` : ''}`)),
    log: (stage, line) => (stage === 'kernel' ? progress.log(stage, line) : log.push(`[${stage}] ${line}`)),
  };
}
