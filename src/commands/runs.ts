// One headless run of a scenario on a profile, for the commands that make many (compare,
// matrix, bisect): the same report `daxlab run --json` prints, and every way it can fail
// sorted into "could not test" (125) or "a bug of daxlab" (3), never thrown at the user.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runScenario, type ScenarioReport } from '../lab/engine.js';
import { loadProfile, ProfileError, type Profile } from '../config/profiles.js';
import { ScenarioError } from '../lab/scenario.js';
import { parseSize } from '../config/units.js';
import { isCannotTest } from '../exit.js';
import { HostSetupError } from '../vm/host.js';
import { KernelError, precheckKernel } from '../vm/kernel.js';
import type { Progress } from '../vm/progress.js';
import { BootError, GuestSession } from '../vm/session.js';
import { resolveRun } from './scenarios.js';

/** What `daxlab run --json` prints: the report plus where the run's files are. */
export type RunJson = ScenarioReport & { source: unknown; runDir: string; record: string | null };

export type RunOutcome = {
  /** The profile as the user named it. */
  label: string;
  profile: Profile | null;
  exitCode: number;
  report: RunJson | null;
  /** Why there is no report, or why the run could not test. */
  error?: string;
};

/** Errors that mean "this kernel or host could not be tested", not a bug of ours. */
export function cannotTestError(err: unknown): err is Error {
  return isCannotTest(err);
}

export type RunOnceOptions = {
  label: string;
  /** The profile itself (bisect makes one per release); otherwise the label is loaded. */
  profile?: Profile;
  scenario: string;
  seed?: number;
  scenarioFile?: string;
  progress: Progress;
  log?: (line: string) => void;
  /** Keep the transcript as <record>.jsonl and the report as <record>.json. */
  record?: string;
};

/** Load a profile, or say why not (exit 125): checked for every profile before anything boots. */
export function loadProfileOutcome(label: string): { profile: Profile } | { outcome: RunOutcome } {
  try {
    const profile = loadProfile(label);
    // A path or tree kernel that cannot be one is said now, before any side fetches its own.
    precheckKernel(profile);
    return { profile };
  } catch (err) {
    if (!cannotTestError(err)) throw err;
    return { outcome: { label, profile: null, exitCode: 125, report: null, error: err.message } };
  }
}

export async function runOnce(opts: RunOnceOptions): Promise<RunOutcome> {
  const loaded = opts.profile ? { profile: opts.profile } : loadProfileOutcome(opts.label);
  if ('outcome' in loaded) return loaded.outcome;
  const { profile } = loaded;
  const fail = (exitCode: number, error: string): RunOutcome => ({ label: opts.label, profile, exitCode, report: null, error });
  let resolved: ReturnType<typeof resolveRun>;
  try {
    resolved = resolveRun({ id: opts.scenario, ...(opts.scenarioFile ? { scenarioFile: opts.scenarioFile } : {}) }, profile);
  } catch (err) {
    if (cannotTestError(err)) return fail(125, err.message);
    throw err;
  }
  let session: GuestSession;
  try {
    session = await GuestSession.boot(profile, { progress: opts.progress });
  } catch (err) {
    if (cannotTestError(err)) return fail(125, err.message);
    return fail(3, `internal error while booting ${opts.label} (a bug of daxlab): ${(err as Error).message ?? String(err)}`);
  }
  let report: ScenarioReport;
  try {
    // A guest lost mid-run (QEMU stopped or killed, the agent's heartbeat gone) could not test.
    report = await Promise.race([
      runScenario(session, resolved.scenario, { ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.log ? { log: opts.log } : {}) }),
      session.lost,
    ]);
  } catch (err) {
    if (session.channel?.closed && !session.lostSignal.aborted) await Promise.race([session.lost.catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
    if (session.lostSignal.aborted) return fail(125, (session.lostSignal.reason as Error).message);
    if (cannotTestError(err)) return fail(125, err.message);
    return fail(3, `internal error while running ${opts.scenario} on ${opts.label} (a bug of daxlab, not a kernel finding): ${(err as Error).message}`);
  } finally {
    await session.shutdown();
  }
  let record: string | null = null;
  const json: RunJson = { ...report, source: resolved.source, runDir: session.runDir, record };
  if (opts.record) {
    fs.mkdirSync(path.dirname(opts.record), { recursive: true });
    record = `${opts.record}.jsonl`;
    fs.copyFileSync(session.transcript, record);
    json.record = record;
    fs.writeFileSync(`${opts.record}.json`, `${JSON.stringify(json, null, 2)}\n`);
  }
  return { label: opts.label, profile, exitCode: report.exitCode, report: json };
}

export type HostResources = { cpus: number; freeMemory: number };

export function hostResources(): HostResources {
  return { cpus: os.cpus().length, freeMemory: os.freemem() };
}

/**
 * Whether guests can run at once without slowing each other into timeouts: under TCG
 * every vCPU is a busy host thread, so the profiles' vCPUs must fit the host's cores,
 * and their memory (plus 1 GiB for the host and QEMU itself) what is free.
 */
export function concurrency(profiles: Array<Pick<Profile, 'cpus' | 'memory'>>, host: HostResources): { parallel: boolean; why: string } {
  const cpus = profiles.reduce((n, p) => n + p.cpus, 0);
  const memory = profiles.reduce((n, p) => n + parseSize(p.memory), 0) + 2 ** 30;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  if (cpus > host.cpus) return { parallel: false, why: `one guest after the other: the guests want ${cpus} vCPUs, this machine has ${host.cpus} cores` };
  if (memory > host.freeMemory) return { parallel: false, why: `one guest after the other: the guests want ${gib(memory)} with the host's share, ${gib(host.freeMemory)} is free` };
  return { parallel: true, why: `both guests at once: ${cpus} vCPUs on ${host.cpus} cores, ${gib(memory)} of ${gib(host.freeMemory)} free` };
}
