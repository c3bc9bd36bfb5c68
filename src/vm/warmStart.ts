// Warm start: the guest as it stands after set-up (kernel booted, modules loaded, the
// namespaces probed, the filesystem mounted, the agent waiting for its first command),
// saved once with QEMU's migration and restored by later boots of the same inputs.
//
// The state is QEMU's own: every RAM block, the NVDIMMs' memory included, the devices
// and the vCPUs. Restoring it gives the guest a cold boot would give at the same point,
// byte for byte, minus the boot. Saved on a boot from the profile's NVDIMM template (a
// boot that made the template does not save: the next one does), restored with the same
// QEMU command line plus `-incoming fd:3` (the state file, opened by us, is QEMU's fd 3).
// Saving goes through `exec:cat > state.bin` run in a fresh directory that is QEMU's
// working directory: QEMU 7.2 takes an outgoing fd: only by a name passed over QMP with
// SCM_RIGHTS (which Node's sockets cannot send), and its exec: child gets no inherited
// descriptors. The command is a constant: no path, nothing from the user, is in it.
//
// The key is everything that shapes that state: QEMU's command line with this run's
// paths taken out, the stamps of the kernel, the initramfs (the agent is in it) and the
// template's files, QEMU's version, the set-up request, and for KVM the host CPU.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { paths } from '../paths.js';
import type { Qmp } from './qmp.js';
import { statStamp } from './image.js';

/** Bump when what is saved, or when, changes. */
export const WARM_FORMAT = 1;

export type WarmInputs = {
  format: number;
  qemu: string;
  argv: string[];
  stamps: string[];
  setup: unknown;
  hostCpu: string | null;
};

export function warmInputs(opts: {
  qemuVersion: string;
  argv: string[];
  /** Paths of this run (sockets, console log): replaced by their role in the key. */
  runPaths: Record<string, string>;
  /** Files whose contents shape the guest: kernel, initramfs, template files. */
  files: string[];
  setup: unknown;
  accel: 'kvm' | 'tcg';
  stamp?: (file: string) => string;
}): WarmInputs {
  const stamp = opts.stamp ?? statStamp;
  const argv = opts.argv.map((arg) => {
    let out = arg;
    for (const [role, p] of Object.entries(opts.runPaths)) out = out.split(p).join(`<${role}>`);
    return out;
  });
  return {
    format: WARM_FORMAT,
    qemu: opts.qemuVersion,
    argv,
    stamps: opts.files.map(stamp),
    setup: opts.setup,
    // A KVM guest's vCPU state is the host CPU's (-cpu host): another CPU cannot take it.
    hostCpu: opts.accel === 'kvm' ? hostCpuModel() : null,
  };
}

function hostCpuModel(): string {
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

export function warmKey(inputs: WarmInputs): string {
  return crypto.createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 20);
}

/** What the host learnt from the saved guest's boot: a restored guest does not boot again. */
export const warmMeta = z.object({
  format: z.number(),
  key: z.string(),
  profile: z.string(),
  savedAt: z.string(),
  /** The guest's set-up reply (namespaces, mount, statx) as the saved boot received it. */
  hello: z.unknown(),
  /** The boot that was saved: its timings and accel. */
  savedBoot: z.object({ agentHello: z.number(), accel: z.string() }),
  bytes: z.number(),
  saveMs: z.number(),
  inputs: z.unknown(),
});
export type WarmMeta = z.infer<typeof warmMeta>;

export type WarmState = { key: string; dir: string; state: string; consoleLog: string; meta: WarmMeta };

const warmRoot = () => path.join(paths.cache, 'warm');

function stateAt(key: string): Omit<WarmState, 'meta'> {
  const dir = path.join(warmRoot(), key);
  return { key, dir, state: path.join(dir, 'state.bin'), consoleLog: path.join(dir, 'console.log') };
}

/** The saved state for these inputs, or null (a state directory appears whole, by rename). */
export function findWarmState(inputs: WarmInputs): WarmState | null {
  const s = stateAt(warmKey(inputs));
  try {
    const meta = warmMeta.parse(JSON.parse(fs.readFileSync(path.join(s.dir, 'meta.json'), 'utf8')));
    if (meta.format !== WARM_FORMAT || meta.key !== s.key || fs.statSync(s.state).size !== meta.bytes) return null;
    return { ...s, meta };
  } catch {
    return null;
  }
}

/** The QEMU command that saves the state, run in the directory warmSaveDir() made. */
export const WARM_SAVE_URI = 'exec:cat > state.bin';

/** A fresh directory to save into: QEMU runs in it, and `cat > state.bin` writes there. */
export function warmSaveDir(): { dir: string; file: string } {
  fs.mkdirSync(warmRoot(), { recursive: true });
  const dir = fs.mkdtempSync(path.join(warmRoot(), `.saving-${process.pid}-`));
  return { dir, file: path.join(dir, 'state.bin') };
}

/**
 * Keep a finished save: the state file and the saved boot's console log go into the key's
 * directory, which appears whole. Other states of the same profile go: one is kept per
 * profile (each is the size of the guest's touched memory).
 */
export function keepWarmState(saved: { dir: string; consoleLog: string }, inputs: WarmInputs, meta: Omit<WarmMeta, 'format' | 'key' | 'bytes' | 'inputs'>): WarmState {
  const key = warmKey(inputs);
  const target = stateAt(key);
  const tmp = saved.dir;
  fs.chmodSync(path.join(tmp, 'state.bin'), 0o600);
  fs.copyFileSync(saved.consoleLog, path.join(tmp, 'console.log'));
  const full: WarmMeta = { ...meta, format: WARM_FORMAT, key, bytes: fs.statSync(path.join(tmp, 'state.bin')).size, inputs };
  fs.writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify(full, null, 1));
  for (const other of listWarmStates()) if (other.meta.profile === meta.profile) fs.rmSync(other.dir, { recursive: true, force: true });
  fs.rmSync(target.dir, { recursive: true, force: true });
  fs.renameSync(tmp, target.dir);
  return { ...target, meta: full };
}

/**
 * A state that did not restore goes, and its key is never saved again: a guest that
 * cannot come back from its own state would make every other boot save and fail.
 */
export function dropWarmState(state: WarmState, why: string): void {
  fs.rmSync(state.dir, { recursive: true, force: true });
  fs.writeFileSync(path.join(warmRoot(), `${state.key}.failed`), `${new Date().toISOString()} ${why}\n`);
}

/** Why these inputs are never saved (a state of theirs did not restore), or null. */
export function warmFailed(inputs: WarmInputs): string | null {
  try {
    return fs.readFileSync(path.join(warmRoot(), `${warmKey(inputs)}.failed`), 'utf8').trim();
  } catch {
    return null;
  }
}

export function listWarmStates(): WarmState[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(warmRoot());
  } catch {
    return [];
  }
  const out: WarmState[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name.endsWith('.failed')) continue;
    const s = stateAt(name);
    try {
      out.push({ ...s, meta: warmMeta.parse(JSON.parse(fs.readFileSync(path.join(s.dir, 'meta.json'), 'utf8'))) });
    } catch {
      // half a state (a crash between files): not usable, not ours to keep
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  }
  return out;
}

/** Saves cut short (a crash of ours while QEMU wrote): files no one will finish. */
export function sweepWarmSaves(alive: (pid: number) => boolean): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(warmRoot());
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\.saving-(\d+)-/.exec(name);
    if (m && !alive(Number(m[1]))) fs.rmSync(path.join(warmRoot(), name), { recursive: true, force: true });
  }
}

/**
 * Save a guest QEMU holds stopped: migrate it into state.bin of QEMU's working directory.
 * Resolves with QEMU's final status ("completed", or why not) and what it wrote.
 */
export async function migrateStopped(qmp: Qmp, timeoutMs = 120_000): Promise<{ status: string; stats: string }> {
  await qmp.execute('stop');
  // The default bandwidth cap (32 MiB/s) is for live migration over a network.
  await qmp.execute('migrate-set-parameters', { 'max-bandwidth': 2 ** 40 });
  await qmp.execute('migrate', { uri: WARM_SAVE_URI });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = (await qmp.execute('query-migrate')) as {
      status?: string;
      'error-desc'?: string;
      'total-time'?: number;
      ram?: { duplicate?: number; normal?: number };
    };
    let status = m.status ?? 'unknown';
    if (['completed', 'failed', 'cancelled'].includes(status)) {
      if (m['error-desc']) status += `: ${m['error-desc']}`;
      const stats = m.ram ? `, QEMU: ${m['total-time']} ms, ${m.ram.normal} pages written, ${m.ram.duplicate} zero pages` : '';
      return { status, stats };
    }
    if (Date.now() > deadline) {
      await qmp.execute('migrate_cancel').catch(() => {});
      return { status: `took over ${Math.round(timeoutMs / 1000)} s`, stats: '' };
    }
    await sleep(20);
  }
}

/**
 * Wait for QEMU to load the state it was started with (-incoming), then run the guest:
 * the state was saved stopped, so QEMU holds it paused once loaded. Rejects with what
 * QEMU says when it does not get there.
 */
export async function runLoaded(qmp: Qmp, deadline: number): Promise<void> {
  for (;;) {
    const s = (await qmp.execute('query-status')) as { status?: string };
    if (s.status === 'running') return;
    if (s.status === 'paused' && ((await qmp.execute('query-migrate')) as { status?: string }).status === 'completed') {
      await qmp.execute('cont');
      continue;
    }
    if (!['inmigrate', 'prelaunch', 'restore-vm', 'paused'].includes(s.status ?? '')) throw new Error(`QEMU says the guest is "${s.status}"`);
    if (Date.now() > deadline) throw new Error(`not loaded by the boot timeout (QEMU: "${s.status}")`);
    await sleep(10);
  }
}
