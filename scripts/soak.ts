// npm run soak [-- N]: N kill trials (default 100) over every fault and phase, then the
// counts: wrong exit codes, orphaned QEMUs, stale files, stack traces. Not in CI: it
// boots a guest per trial. Run it under the guest lock: flock /work/guest.lock npm run soak.
import { killTrial, type Fault, type Phase } from '../test/guest/killTrial.js';

const n = Number(process.argv[2] ?? 100);
const faults: Fault[] = ['SIGINT', 'SIGTERM', 'SIGKILL', 'qemu-stop-kill'];
const phases: Phase[] = ['boot', 'setup', 'scenario'];
const counts = { trials: 0, wrongExit: 0, orphans: 0, staleFiles: 0, stackTraces: 0, ourBug: 0 };
for (let i = 0; i < n; i++) {
  const fault = faults[i % faults.length]!;
  // A stopped QEMU is only meaningful once the scenario runs.
  const phase = fault === 'qemu-stop-kill' ? 'scenario' : phases[Math.floor(i / faults.length) % phases.length]!;
  const r = await killTrial(fault, phase, { scenarioDelayMs: 500 + ((i * 797) % 4000) });
  counts.trials++;
  const bad: string[] = [];
  if (r.exit !== r.expected) (counts.wrongExit++, bad.push(`exit ${r.exit} (expected ${r.expected})`));
  if (r.orphans) (counts.orphans += r.orphans, bad.push(`${r.orphans} QEMU left`));
  if (r.staleFiles.length) (counts.staleFiles += r.staleFiles.length, bad.push(`left ${r.staleFiles.join(', ')}`));
  if (r.stackTraces) (counts.stackTraces += r.stackTraces, bad.push('a stack trace'));
  if (r.ourBug) (counts.ourBug++, bad.push('"a bug of daxlab"'));
  process.stdout.write(`trial ${i + 1}/${n} ${fault}@${phase}: exit ${r.exit} in ${(r.ms / 1000).toFixed(1)} s${bad.length ? `  BAD: ${bad.join('; ')}\n${r.stderrTail}` : ''}\n`);
}
process.stdout.write(
  `${counts.trials} trials: ${counts.wrongExit} wrong exit codes, ${counts.orphans} orphans, ${counts.staleFiles} stale files, ${counts.stackTraces} stack traces, ${counts.ourBug} "bug of daxlab"\n`,
);
process.exit(counts.wrongExit + counts.orphans + counts.staleFiles + counts.stackTraces + counts.ourBug ? 1 : 0);
