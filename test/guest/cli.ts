// Helpers for tests that run the real daxlab command and boot real guests.
import { execa, type Options } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tempDirs } from '../unit/tempDirs.js';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export function daxlab(args: string[], opts: Options = {}) {
  return execa('node', [path.join(repoRoot, 'bin/daxlab.mjs'), ...args], { reject: false, stdin: 'ignore', ...opts });
}

/** QEMU processes started for a run: found by the -name the lab gives each guest. */
export async function qemuProcessesOf(runId: string): Promise<string[]> {
  const r = await execa('pgrep', ['-af', `daxlab-${runId}`], { reject: false });
  return r.stdout.split('\n').filter((l) => l.includes('qemu-system'));
}

// Removed when the test file that wrote them ends (runs used to leave them in /tmp).
const profileDir = tempDirs('daxlab-profile-');

export function writeProfile(data: unknown): string {
  const file = path.join(profileDir(), 'profile.json');
  fs.writeFileSync(file, JSON.stringify(data));
  return file;
}

export function newestRunDir(stateDir = path.join(os.homedir(), '.local/share/daxlab/state')): string | null {
  const runs = path.join(process.env.DAXLAB_STATE_DIR ?? stateDir, 'runs');
  if (!fs.existsSync(runs)) return null;
  const all = fs.readdirSync(runs).sort();
  return all.length ? path.join(runs, all.at(-1)!) : null;
}
