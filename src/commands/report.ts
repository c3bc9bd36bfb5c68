// daxlab report <run.json> --format email: a run as a plain-text bug report for a list.
import fs from 'node:fs';
import path from 'node:path';
import { formatEmail, type EmailRun } from '../lab/email.js';
import { exportC } from '../lab/exportC.js';
import { findScenario } from '../lab/scenarios/index.js';
import { stateFromTranscript } from '../lab/record.js';
import { buildTimeline, stepShape, timelineInput } from '../lab/timeline.js';
import { timelineReport } from '../screens/timelineText.js';
import { paths } from '../paths.js';
import { CannotTestError, UsageError } from '../exit.js';
import { EXIT } from './scenarios.js';

export const REPORT_USAGE = 'daxlab report <run.json> --format email [--transcript T] [-o FILE]';

/** The config options a DAX report states, and the kernel's config file they are read from. */
const CONFIG_KEYS = ['CONFIG_FS_DAX', 'CONFIG_ZONE_DEVICE', 'CONFIG_TRANSPARENT_HUGEPAGE', 'CONFIG_XFS_FS', 'CONFIG_EXT4_FS', 'CONFIG_BLK_DEV_NULL_BLK', 'CONFIG_HAVE_HW_BREAKPOINT', 'CONFIG_PERF_EVENTS', 'CONFIG_KPROBE_EVENTS'];

/** The kernel's config: from the cached package whose release is this one. */
export function kernelConfig(release: string, cacheDir = path.join(paths.cache, 'kernels')): { file: string; facts: Array<[string, string]> } | null {
  let dirs: string[] = [];
  try {
    dirs = fs.readdirSync(cacheDir);
  } catch {
    return null;
  }
  for (const d of dirs) {
    // Debian 6.x ships boot/config-<release>; 7.x only usr/lib/modules/<release>/config
    const file = [path.join(cacheDir, d, 'root', 'boot', `config-${release}`), path.join(cacheDir, d, 'root', 'usr', 'lib', 'modules', release, 'config')].find((f) => fs.existsSync(f));
    if (!file) continue;
    const text = fs.readFileSync(file, 'utf8');
    const facts = CONFIG_KEYS.map((k): [string, string] => {
      const m = new RegExp(`^${k}=(.*)$`, 'm').exec(text);
      return [k, m ? m[1]! : 'is not set'];
    });
    return { file, facts };
  }
  return null;
}

function readRun(file: string): EmailRun & { record?: string | null; transcript?: string | null; profile: { name: string; fs: string } } {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    // Like replay and export: a file that cannot be read as what it should be is 125, not a usage slip.
    throw new CannotTestError(`${file} is not a run's JSON (what "daxlab run <id> --json" prints): ${(err as Error).message}`);
  }
  const r = data as Partial<EmailRun>;
  if (!r || typeof r !== 'object' || !r.scenario?.id || !r.kernel?.release || !Array.isArray(r.expectations)) {
    throw new CannotTestError(`${file} is not a run's JSON: it has no scenario, kernel and expectations (save what "daxlab run <id> --json" prints)`);
  }
  return { findings: [], ...r } as EmailRun & { record?: string | null; transcript?: string | null };
}

export function reportCommand(positionals: string[], values: { format?: string; transcript?: string; out?: string }): number {
  const file = positionals[0];
  if (!file) throw new UsageError('name the run: the JSON file "daxlab run <id> --json" printed', REPORT_USAGE);
  if ((values.format ?? 'email') !== 'email') throw new UsageError(`--format ${values.format}: the one format is email`, REPORT_USAGE);
  const run = readRun(file);
  const transcript = values.transcript ?? [run.record, run.transcript].find((t): t is string => typeof t === 'string' && fs.existsSync(t));
  let timeline: string[] | undefined;
  let scenarioSteps: ReturnType<typeof stepShape>[] = [];
  let reproducer: { files: Array<{ name: string; text: string }> } | { why: string } = { why: `${run.scenario.id} is not a scenario this daxlab knows` };
  try {
    const { scenario } = findScenario(run.scenario.id);
    scenarioSteps = scenario.steps.map(stepShape);
    const c = exportC(scenario);
    reproducer = c.ok ? { files: [{ name: `${scenario.id}.sh`, text: c.sh }, { name: `${scenario.id}.c`, text: c.c }] } : { why: c.why };
  } catch {
    // a scenario from a file or a profile: no reproducer, the report still goes
  }
  if (transcript) {
    if (!fs.existsSync(transcript)) throw new UsageError(`--transcript ${transcript}: no such file`, REPORT_USAGE);
    const { state } = stateFromTranscript(transcript);
    timeline = timelineReport(buildTimeline(state, timelineInput(run as never, state, scenarioSteps)), 72);
  }
  const config = kernelConfig(run.kernel.release)?.facts;
  const command = `npx daxlab run ${run.scenario.id} --profile ${run.profile.name}${run.seed !== 1 ? ` --seed ${run.seed}` : ''}`;
  const text = formatEmail({ run, command, ...(config ? { config } : {}), ...(timeline ? { timeline } : {}), reproducer });
  if (values.out) fs.writeFileSync(values.out, text);
  else process.stdout.write(text);
  return run.findings.length ? 0 : run.exitCode === 125 ? EXIT.cannotTest : 0;
}
