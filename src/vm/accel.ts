// KVM or TCG, and why. /dev/kvm can exist and still be unusable (nested virtualisation):
// "auto" tries KVM, watches the boot, falls back to TCG and remembers the outcome per
// host + QEMU + kernel so the next boot does not pay for the probe again.
import Conf from 'conf';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CannotTestError } from '../exit.js';
import { paths } from '../paths.js';
import type { Accel } from './qemu.js';

export type AccelDecision = { accel: Accel; reason: string; probe: boolean };

type Memo = { accel: Accel; reason: string; at: string };

function store(): Conf<Record<string, Memo>> {
  return new Conf<Record<string, Memo>>({ projectName: 'daxlab', projectSuffix: '', cwd: paths.state, configName: 'accel' });
}

/** The qemu-system-x86_64 that execa will run: the first on PATH. */
function qemuBinary(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir || '.', 'qemu-system-x86_64');
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * QEMU's version, asked once per binary: remembered under the binary's path, size, mtime
 * and inode (an upgrade replaces the file), so a boot does not start QEMU just to ask.
 */
export async function qemuVersion(): Promise<string> {
  const binary = qemuBinary();
  let stamp: string | null = null;
  if (binary) {
    const st = fs.statSync(binary);
    stamp = `${binary} ${st.size} ${Math.trunc(st.mtimeMs)} ${st.ino}`;
  }
  const memoFile = path.join(paths.cache, 'qemu-version.json');
  if (stamp) {
    try {
      const memo = JSON.parse(fs.readFileSync(memoFile, 'utf8')) as { stamp: string; version: string };
      if (memo.stamp === stamp) return memo.version;
    } catch {
      // none yet
    }
  }
  // QEMU that does not run (missing, broken, not executable) is the host's problem: could
  // not test, with QEMU's own words, not "a bug of daxlab".
  const r = await execa('qemu-system-x86_64', ['--version'], { reject: false });
  if (r.failed) {
    const why = String(r.stderr || r.shortMessage || r.message).trim().split('\n').slice(-3).join('; ');
    throw new CannotTestError(`qemu-system-x86_64 --version failed on this host (${r.exitCode === undefined ? 'it did not run' : `exit ${r.exitCode}`}): ${why}; see "daxlab doctor"`);
  }
  const stdout = String(r.stdout);
  const version = /version (\S+)/.exec(stdout)?.[1] ?? 'unknown';
  if (stamp) {
    fs.mkdirSync(paths.cache, { recursive: true });
    const tmp = `${memoFile}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ stamp, version }));
    fs.renameSync(tmp, memoFile);
  }
  return version;
}

export function memoKey(host: string, qemu: string, kernelRelease: string): string {
  // conf uses dots as path separators: keep them out of the key.
  return `${host}|qemu-${qemu}|${kernelRelease}`.replaceAll('.', '_');
}

export function kvmAccess(): { ok: true } | { ok: false; why: string } {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    return { ok: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, why: code === 'ENOENT' ? '/dev/kvm does not exist' : `/dev/kvm cannot be opened (${code})` };
  }
}

export async function decideAccel(wanted: 'auto' | Accel, kernelRelease: string): Promise<AccelDecision & { key: string }> {
  const key = memoKey(os.hostname(), await qemuVersion(), kernelRelease);
  if (wanted === 'tcg') return { accel: 'tcg', reason: 'the profile asks for TCG', probe: false, key };
  if (wanted === 'kvm') return { accel: 'kvm', reason: 'the profile asks for KVM', probe: false, key };
  const access = kvmAccess();
  if (!access.ok) return { accel: 'tcg', reason: `${access.why}: using TCG (software emulation)`, probe: false, key };
  const memo = store().get(key);
  if (memo) return { accel: memo.accel, reason: `${memo.reason} (remembered from ${memo.at})`, probe: false, key };
  return { accel: 'kvm', reason: '/dev/kvm is usable: trying KVM first', probe: true, key };
}

export function rememberAccel(key: string, accel: Accel, reason: string): void {
  store().set(key, { accel, reason, at: new Date().toISOString() });
}

export function forgetAccel(): void {
  store().clear();
}
