// daxlab selftest: boot, check the observer against the running kernel, report.
import { LabDriver } from '../lab/driver.js';
import { loadProfile } from '../config/profiles.js';
import { runSelftest, type SelftestReport } from '../lab/selftest.js';
import { ensureHost } from '../vm/host.js';
import { GuestSession } from '../vm/session.js';
import { consoleProgress } from './output.js';

export function formatSelftest(r: SelftestReport): string {
  const lines = [`kernel ${r.kernel.release} on ${r.fs}: fsdax idle refcount ${r.kernel.idleBaseline ?? 'unknown'}`];
  for (const c of r.checks) {
    lines.push(`${c.held ? 'held    ' : 'VIOLATED'} ${c.id}: ${c.description}`);
    lines.push(`         observed ${JSON.stringify(c.observed)}`);
    lines.push(`         expected ${JSON.stringify(c.expected)}`);
    if (c.crossCheck?.notApplicable) {
      lines.push(`         cross-check ${c.crossCheck.notApplicable}`);
    } else if (c.crossCheck) {
      lines.push(`         cross-check ${c.crossCheck.held ? 'held' : 'FAILED'}: ${c.crossCheck.source} = ${JSON.stringify(c.crossCheck.value)}`);
    }
  }
  lines.push(r.held ? 'every check held' : 'some checks did not hold: see above');
  return lines.join('\n');
}

export async function selftestCommand(opts: { profile: string; json: boolean; verbose: boolean }): Promise<number> {
  const progress = consoleProgress({ verbose: opts.verbose });
  const profile = loadProfile(opts.profile);
  await ensureHost(progress, { install: true });
  const session = await GuestSession.boot(profile, { progress });
  let report: SelftestReport;
  try {
    const driver = new LabDriver(session.channel);
    session.channel.on('protocol-error', (e) => progress.log('agent', `protocol error: ${e.message}`));
    report = await runSelftest(driver, session.hello, session.ready.release, (line) => progress.log('selftest', line));
  } finally {
    await session.shutdown();
  }
  process.stdout.write(opts.json ? `${JSON.stringify({ ...report, runDir: session.runDir }, null, 2)}\n` : `${formatSelftest(report)}\n`);
  return report.held ? 0 : 1;
}
