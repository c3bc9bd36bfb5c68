// KVM or TCG, and why. /dev/kvm can exist and still be unusable (nested virtualisation):
// "auto" tries KVM, watches the boot, falls back to TCG and remembers the outcome per
// host + QEMU + kernel so the next boot does not pay for the probe again.
import Conf from 'conf';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import { paths } from '../paths.js';
import type { Accel } from './qemu.js';

export type AccelDecision = { accel: Accel; reason: string; probe: boolean };

type Memo = { accel: Accel; reason: string; at: string };

function store(): Conf<Record<string, Memo>> {
  return new Conf<Record<string, Memo>>({ projectName: 'daxlab', projectSuffix: '', cwd: paths.state, configName: 'accel' });
}

export async function qemuVersion(): Promise<string> {
  const { stdout } = await execa('qemu-system-x86_64', ['--version']);
  return /version (\S+)/.exec(stdout)?.[1] ?? 'unknown';
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
