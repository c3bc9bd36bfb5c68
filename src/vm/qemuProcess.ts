// The QEMU process of a boot: started under setpriv --pdeathsig (if we die without running
// any handler, the kernel kills it), its stderr kept in the run's qemu.log, its exit told
// in one line (signal or code, and the last lines QEMU printed).
import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs';
import path from 'node:path';

export type QemuProcess = { child: ResultPromise; exited: Promise<string> };

export function startQemu(argv: string[], opts: { runDir: string; cwd?: string; stateFd: number | null }): QemuProcess {
  const log = path.join(opts.runDir, 'qemu.log');
  // A plain descriptor goes to the child as it is (execa's types list only 3-9, any fd works).
  const extraFds = opts.stateFd !== null ? [opts.stateFd as 3] : [];
  const child = execa('setpriv', ['--pdeathsig', 'KILL', '--', 'qemu-system-x86_64', ...argv], {
    stdio: ['ignore', { file: log }, 'pipe', ...extraFds],
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    reject: false,
    // Our own exit paths stop QEMU (cleanly when they can); pdeathsig covers the rest.
    cleanup: false,
  });
  // QEMU has its own copy of the descriptor now.
  if (opts.stateFd !== null) fs.closeSync(opts.stateFd);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    fs.appendFileSync(log, chunk);
  });
  const exited = child.then((r) => `QEMU exited (${r.signal ?? `code ${r.exitCode}`})${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
  return { child, exited };
}
