// daxlab doctor: each host check as ok / missing / fixed.
import { ensureHost, hostChecks, HostSetupError, type CheckResult } from '../vm/host.js';
import { consoleProgress } from './output.js';

export async function doctorCommand(opts: { install: boolean; json: boolean }): Promise<number> {
  let results: CheckResult[];
  let failure: HostSetupError | null = null;
  try {
    results = await ensureHost(consoleProgress(), { install: opts.install });
  } catch (err) {
    if (!(err instanceof HostSetupError)) throw err;
    failure = err;
    results = hostChecks.map((c) => ({ ...c, status: err.missing.includes(c) ? 'missing' : 'ok' }));
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ checks: results, error: failure?.message ?? null }, null, 2)}\n`);
  } else {
    for (const r of results) process.stdout.write(`${r.status.padEnd(8)} ${r.id.padEnd(12)} ${r.package.padEnd(18)} ${r.why}\n`);
    if (failure) process.stdout.write(`\n${failure.message}\n`);
  }
  return failure ? 1 : 0;
}
