// One kill trial: `daxlab run` in a real guest, stopped at a chosen moment by a chosen
// signal (or its QEMU stopped, then killed; or the guest frozen: QEMU's vCPU threads
// stopped while QEMU itself runs and answers QMP, as a hung guest kernel looks from the
// host), then what is left is counted: QEMU processes, socket directories, NVDIMM
// images, stack traces. Each trial has its own
// state and temporary directories, so what it finds is its own. Used by the guest suite
// (test/guest/kill.test.ts) and the soak (scripts/soak.ts).
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sweepDeadRuns } from '../../src/vm/sweep.js';
import { paths } from '../../src/paths.js';
import { repoRoot } from './cli.js';
import { BAD_SCENARIOS } from './badScenarios.js';

export type Phase = 'boot' | 'setup' | 'scenario';
export type Fault = 'SIGINT' | 'SIGTERM' | 'SIGKILL' | 'qemu-stop-kill' | 'guest-freeze' | `bad:${keyof typeof BAD_SCENARIOS & string}`;

export type TrialResult = {
  fault: Fault;
  phase: Phase;
  /** The exit code, or the signal that ended daxlab. */
  exit: number | string;
  expected: number | string;
  /** QEMU processes of the trial still alive after it. */
  orphans: number;
  /** Socket directories and NVDIMM images left (after the next start's sweep, for SIGKILL). */
  staleFiles: string[];
  stackTraces: number;
  /** A "bug of daxlab" message: never right for a signal. */
  ourBug: boolean;
  /** A bad scenario's trial: the output names its mistake. */
  saysWhy: boolean;
  ms: number;
  /** guest-freeze: from the freeze until daxlab exited (it must notice within seconds). */
  noticedMs: number | null;
  /** The longest the agent went without a line, after its "ready", until the fault (host time): the heartbeat's margin. */
  longestSilenceMs: number | null;
  /** guest-freeze: which threads were stopped, as the freezer said it. */
  freezeNote: string | null;
  stderrTail: string;
};

/** From the trial's transcripts: the longest gap between two agent lines after "ready". */
function longestAgentSilence(runsDir: string): number | null {
  let longest: number | null = null;
  for (const file of walk(runsDir).filter((f) => f.endsWith('transcript.jsonl'))) {
    let prev: number | null = null;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      let rec: { dir?: string; ms?: number; line?: string };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        continue;
      }
      if (rec.dir !== 'agent' || typeof rec.ms !== 'number') continue;
      if (prev === null && !/"kind":"ready"/.test(rec.line ?? '')) continue;
      if (prev !== null) longest = Math.max(longest ?? 0, rec.ms - prev);
      prev = rec.ms;
    }
  }
  return longest;
}

const markers: Record<Phase, RegExp> = {
  // a cold boot ("booting the guest kernel") or a warm start ("restoring the set-up guest")
  boot: /^\[kernel\] (booting the guest kernel|restoring the set-up guest)/m,
  // "namespaces, mkfs..." on a first boot, "mount -o ... (from the NVDIMM template)" after.
  setup: /^\[setup\] /m,
  scenario: /^dma-vs-truncate: /m,
};

const expectedExits: Record<string, number | string> = { SIGINT: 130, SIGTERM: 143, SIGKILL: 'SIGKILL', 'qemu-stop-kill': 125, 'guest-freeze': 125 };
const expectedExit = (fault: Fault) => (fault.startsWith('bad:') ? 125 : expectedExits[fault]!);

/**
 * Hold a lock file (flock(1)) until release() is called: each trial takes the guest lock
 * for its own guest only, so that other users' guests run between trials.
 */
async function holdLock(file: string): Promise<{ release: () => Promise<void> }> {
  const holder = execa('flock', [file, 'sh', '-c', 'echo locked; read _'], { stdin: 'pipe', reject: false });
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
    void holder.then(() => reject(new Error(`flock ${file} ended without the lock`)));
  });
  return {
    release: async () => {
      holder.stdin?.end();
      await holder;
    },
  };
}

/** test/guest/freeze.c, built into dir: it stops threads with ptrace and holds them until killed. */
async function buildFreezer(dir: string): Promise<string> {
  const out = path.join(dir, 'freeze');
  await execa('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, path.join(repoRoot, 'test/guest/freeze.c')]);
  return out;
}

/** QEMU's vCPU threads ("CPU 0/TCG", "CPU 1/KVM"): stopping them stops the guest, not QEMU. */
function vcpuThreads(pid: number): number[] {
  const dir = `/proc/${pid}/task`;
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((tid) => {
      try {
        return /^CPU \d+\//.test(fs.readFileSync(`${dir}/${tid}/comm`, 'utf8'));
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function qemuPids(tag: string): Promise<number[]> {
  const r = await execa('pgrep', ['-f', `qemu-system.*${tag}`], { reject: false });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [path.join(dir, e.name), ...walk(path.join(dir, e.name))] : [path.join(dir, e.name)]));
}

export async function killTrial(fault: Fault, phase: Phase, opts: { scenarioDelayMs?: number; lock?: string } = {}): Promise<TrialResult> {
  const lock = opts.lock ? await holdLock(opts.lock) : null;
  try {
    return await trial(fault, phase, opts);
  } finally {
    await lock?.release();
  }
}

async function trial(fault: Fault, phase: Phase, opts: { scenarioDelayMs?: number }): Promise<TrialResult> {
  const began = Date.now();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-trial-'));
  const state = path.join(root, 'state');
  const tmp = path.join(root, 'tmp');
  fs.mkdirSync(tmp);
  // The cache (kernel, agent, images) is shared: the trial is about the run, not the build.
  // So is what this machine's KVM was found to do (accel.json): a trial that probed KVM
  // again would spend 30 s of a nested machine's unusable KVM before its fault, not test more.
  fs.mkdirSync(state, { recursive: true });
  const accelMemo = path.join(paths.state, 'accel.json');
  if (fs.existsSync(accelMemo)) fs.copyFileSync(accelMemo, path.join(state, 'accel.json'));
  // A warm start has no set-up to stop in (it restores a guest set up already): the set-up
  // trials boot cold.
  const env = { ...process.env, DAXLAB_STATE_DIR: state, TMPDIR: tmp, ...(phase === 'setup' ? { DAXLAB_COLD: '1' } : {}) };
  const bad = fault.startsWith('bad:') ? BAD_SCENARIOS[fault.slice(4)]! : null;
  const scenarioFile = path.join(root, 'scenario.json');
  if (bad) fs.writeFileSync(scenarioFile, JSON.stringify(bad.scenario));
  const args = bad ? ['run', '--scenario-file', scenarioFile] : ['run', 'dma-vs-truncate'];
  const child = execa('node', [path.join(repoRoot, 'bin/daxlab.mjs'), ...args], { reject: false, stdin: 'ignore', env, all: false });
  let stderr = '';
  const reached = new Promise<void>((resolve) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (markers[phase].test(stderr)) resolve();
    });
  });
  const ended = child.then(() => undefined);
  await Promise.race([reached, ended]);
  if (phase === 'scenario' && !bad) await sleep(opts.scenarioDelayMs ?? 1500);
  const runsDir = path.join(state, 'runs');
  const runId = fs.existsSync(runsDir) ? fs.readdirSync(runsDir)[0] : undefined;
  const tag = runId ? `daxlab-${runId}` : 'daxlab-trial-none';
  let freezer: ReturnType<typeof execa> | null = null;
  let freezeNote: string | null = null;
  let frozenAt: number | null = null;
  if (fault === 'guest-freeze') {
    const [pid] = await qemuPids(tag);
    const threads = pid ? vcpuThreads(pid) : [];
    freezeNote = pid ? `QEMU ${pid}: vCPU threads ${threads.join(',') || 'none found'}` : `no QEMU found for ${tag}`;
    if (threads.length) {
      freezer = execa(await buildFreezer(root), threads.map(String), { reject: false });
      frozenAt = Date.now();
      // The freezer says how many threads it stopped (and why not, on stderr).
      let said = '';
      freezer.stderr?.on('data', (c: Buffer) => (freezeNote += ` | ${c.toString().trim()}`));
      await Promise.race([
        new Promise<void>((resolve) => freezer!.stdout?.on('data', (c: Buffer) => ((said += c.toString()), /frozen \d+/.test(said) && resolve()))),
        sleep(10_000),
      ]);
      freezeNote += ` | ${said.trim() || 'the freezer said nothing'}`;
    }
  } else if (fault === 'qemu-stop-kill') {
    const [pid] = await qemuPids(tag);
    if (pid) {
      process.kill(pid, 'SIGSTOP');
      await sleep(2000);
      process.kill(pid, 'SIGKILL');
    }
  } else if (bad) {
    // No fault: the scenario's own mistake must end the run.
  } else if (child.pid && child.exitCode === null && child.signalCode === null) {
    // daxlab may have ended before the moment came (its marker never printed): say so, do not crash.
    try {
      process.kill(child.pid, fault);
    } catch {
      stderr += `\n(trial: daxlab had already exited before ${fault} could be sent)\n`;
    }
  }
  const result = await Promise.race([child, sleep(bad ? 240_000 : 90_000).then(() => null)]);
  const noticedMs = frozenAt === null ? null : Date.now() - frozenAt;
  if (!result) child.kill('SIGKILL');
  const r = result ?? (await child);
  freezer?.kill('SIGKILL');
  await freezer?.catch(() => {});
  // QEMU dies with its parent (pdeathsig); give the kernel a moment to deliver it.
  let orphans = (await qemuPids(tag)).length;
  for (let i = 0; i < 20 && orphans; i++) {
    await sleep(250);
    orphans = (await qemuPids(tag)).length;
  }
  for (const pid of await qemuPids(tag)) process.kill(pid, 'SIGKILL');
  // After kill -9 nothing of ours ran: the next start sweeps (as GuestSession does).
  if (fault === 'SIGKILL') sweepDeadRuns(runsDir, tmp);
  const staleFiles = [
    ...fs.readdirSync(tmp).filter((e) => e.startsWith('daxlab-')).map((e) => path.join(tmp, e)),
    ...walk(runsDir).filter((f) => /nvdimm\d+\.img$|owner\.pid$/.test(f)),
  ];
  const text = stderr;
  const gap = longestAgentSilence(runsDir);
  fs.rmSync(root, { recursive: true, force: true });
  return {
    fault,
    phase,
    exit: r.signal ?? r.exitCode ?? 'none',
    expected: expectedExit(fault),
    orphans,
    staleFiles,
    stackTraces: (text.match(/\n\s+at .+:\d+:\d+\)?\n/g) ?? []).length,
    ourBug: /a bug of daxlab/.test(text),
    // A bad scenario must say what is wrong with it (stdout has the report: the verdict's reason).
    saysWhy: bad ? bad.says.test(text + r.stdout) : true,
    ms: Date.now() - began,
    noticedMs,
    longestSilenceMs: gap,
    freezeNote,
    stderrTail: text.split('\n').slice(-12).join('\n'),
  };
}
