// npm run soak [-- N] [--lock FILE]: N trials (default 100) over every fault and phase —
// SIGINT / SIGTERM / SIGKILL at boot, set-up and mid-scenario, a QEMU stopped then killed,
// a frozen guest (vCPUs stopped: only the agent's heartbeat can tell), and scenario files
// whose mistake only the guest's kernel shows — then the counts: wrong exit codes,
// orphaned QEMUs, stale files, stack traces, "bug of daxlab", unexplained mistakes. Not in
// CI: every trial boots a guest. With --lock (or DAXLAB_GUEST_LOCK), each trial takes
// that flock(1) lock for its own guest only, so other users' guests run in between.
import { killTrial, type Fault, type Phase } from '../test/guest/killTrial.js';
import { BAD_SCENARIOS } from '../test/guest/badScenarios.js';

const args = process.argv.slice(2);
const lockAt = args.indexOf('--lock');
const lock = lockAt >= 0 ? args.splice(lockAt, 2)[1] : process.env.DAXLAB_GUEST_LOCK;
const n = Number(args[0] ?? 100);
// Interleaved, so that a soak cut short has still tried each kind.
const bads = Object.keys(BAD_SCENARIOS).map((k) => `bad:${k}` as Fault);
const faults: Fault[] = ['guest-freeze', bads[0]!, 'qemu-stop-kill', bads[1]!, 'SIGINT', bads[2]!, 'SIGTERM', bads[3]!, 'SIGKILL'];
const phases: Phase[] = ['boot', 'setup', 'scenario'];
const counts = { trials: 0, wrongExit: 0, orphans: 0, staleFiles: 0, stackTraces: 0, ourBug: 0, unexplained: 0 };
const silences: number[] = [];
const noticed: number[] = [];
const began = Date.now();
for (let i = 0; i < n; i++) {
  const fault = faults[i % faults.length]!;
  // A stopped or frozen guest, and a scenario's mistake, only mean something once the scenario runs.
  const signal = fault === 'SIGINT' || fault === 'SIGTERM' || fault === 'SIGKILL';
  const phase = signal ? phases[Math.floor(i / faults.length) % phases.length]! : 'scenario';
  const r = await killTrial(fault, phase, { scenarioDelayMs: 500 + ((i * 797) % 4000), ...(lock ? { lock } : {}) });
  counts.trials++;
  const bad: string[] = [];
  if (r.exit !== r.expected) (counts.wrongExit++, bad.push(`exit ${r.exit} (expected ${r.expected})`));
  if (r.orphans) (counts.orphans += r.orphans, bad.push(`${r.orphans} QEMU left`));
  if (r.staleFiles.length) (counts.staleFiles += r.staleFiles.length, bad.push(`left ${r.staleFiles.join(', ')}`));
  if (r.stackTraces) (counts.stackTraces += r.stackTraces, bad.push('a stack trace'));
  if (r.ourBug) (counts.ourBug++, bad.push('"a bug of daxlab"'));
  if (!r.saysWhy) (counts.unexplained++, bad.push("the scenario's mistake is not named"));
  if (r.freezeNote && !/frozen [1-9]/.test(r.freezeNote)) bad.push(`not frozen: ${r.freezeNote}`);
  if (r.longestSilenceMs !== null) silences.push(r.longestSilenceMs);
  if (r.noticedMs !== null) noticed.push(r.noticedMs);
  const extra = `${r.longestSilenceMs === null ? '' : `, longest agent silence ${r.longestSilenceMs} ms`}${r.noticedMs === null ? '' : `, freeze noticed in ${r.noticedMs} ms`}`;
  process.stdout.write(`trial ${i + 1}/${n} ${fault}@${phase}: exit ${r.exit} in ${(r.ms / 1000).toFixed(1)} s${extra}${bad.length ? `  BAD: ${bad.join('; ')}\n${r.stderrTail}` : ''}\n`);
}
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : null);
process.stdout.write(
  `${counts.trials} trials in ${Math.round((Date.now() - began) / 60_000)} min: ${counts.wrongExit} wrong exit codes, ${counts.orphans} orphans, ${counts.staleFiles} stale files, ` +
    `${counts.stackTraces} stack traces, ${counts.ourBug} "bug of daxlab", ${counts.unexplained} unexplained mistakes; ` +
    `longest agent silence before a fault ${max(silences)} ms; frozen guests noticed in at most ${max(noticed)} ms\n`,
);
process.exit(counts.wrongExit + counts.orphans + counts.staleFiles + counts.stackTraces + counts.ourBug + counts.unexplained ? 1 : 0);
