// The agent's kernel-state reader (src/vm/guest/kstate) has its own C unit tests: pure
// decoders, page-table walks over fake tables, BTF offsets of the host kernel and of each
// kernel era's vmlinux (Debian 6.1, 6.12, 7.2; cross-checked with bpftool), and a fake
// /proc/kcore end to end laid out from each era's BTF. They print TAP, as kselftests do.
//
// Each era's vmlinux is the one the lab itself boots: the profile's kernel, resolved and
// extracted by src/vm/kernel.ts into the lab's cache. KSTATE_VMLINUX_6_1 / _6_12 / _7_2
// name a vmlinux directly (for a kernel no shipped profile names yet).
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { loadProfile } from '../../src/config/profiles.js';
import { resolveKernel } from '../../src/vm/kernel.js';
import { silentProgress } from '../../src/vm/progress.js';
import { repoRoot } from '../guest/cli.js';
import { tempDirs } from './tempDirs.js';

const tmp = tempDirs('daxlab-kstate-');

const eras = [
  { era: '6.1', env: 'KSTATE_VMLINUX_6_1', profile: 'default' },
  { era: '6.12', env: 'KSTATE_VMLINUX_6_12', profile: 'lts-6.12' },
  { era: '7.2', env: 'KSTATE_VMLINUX_7_2', profile: 'sid' },
];

/** The era's vmlinux, or why there is none here. */
async function vmlinuxOf(e: (typeof eras)[number]): Promise<{ path: string } | { why: string }> {
  const named = process.env[e.env];
  if (named) return fs.existsSync(named) ? { path: named } : { why: `${e.env}=${named} does not exist` };
  let profile;
  try {
    profile = loadProfile(e.profile);
  } catch {
    return { why: `no profile "${e.profile}" and no ${e.env}` };
  }
  const kernel = await resolveKernel(profile, silentProgress);
  return kernel.vmlinux ? { path: kernel.vmlinux } : { why: `profile ${e.profile}: no vmlinux (kernel without CONFIG_PVH?)` };
}

type Tap = { ok: string[]; notOk: string[]; skipped: string[]; plan: number | null };

function parseTap(text: string): Tap {
  const tap: Tap = { ok: [], notOk: [], skipped: [], plan: null };
  for (const line of text.split('\n')) {
    const plan = /^1\.\.(\d+)$/.exec(line);
    if (plan) tap.plan = Number(plan[1]);
    const point = /^(not ok|ok) \d+ (.*?)(?: # SKIP (.*))?$/.exec(line);
    if (!point) continue;
    if (point[3] !== undefined) tap.skipped.push(point[2]!);
    else (point[1] === 'ok' ? tap.ok : tap.notOk).push(point[2]!);
  }
  return tap;
}

it('kstate C unit tests pass on the BTF of every kernel era', { timeout: 600_000 }, async () => {
  const out = tmp();
  const env: Record<string, string> = {};
  const missing: string[] = [];
  for (const e of eras) {
    const v = await vmlinuxOf(e);
    if ('path' in v) env[e.env] = v.path;
    else missing.push(`${e.era}: ${v.why}`);
  }
  // The 6.1 guest kernel is the default profile's: always there.
  expect(env.KSTATE_VMLINUX_6_1, missing.join('; ')).toBeDefined();
  if (missing.length) console.warn(`kstate: eras not tested here: ${missing.join('; ')}`);
  const r = await execa('make', ['-s', '-C', path.join(repoRoot, 'src/vm/guest/kstate'), `O=${out}`, 'test'], {
    reject: false,
    all: true,
    env,
  });
  const log = String(r.all).slice(-4000);
  const tap = parseTap(String(r.all));
  expect(tap.plan, log).toBe(tap.ok.length + tap.notOk.length + tap.skipped.length);
  expect(tap.notOk, log).toEqual([]);
  for (const e of eras) {
    if (!env[e.env]) continue;
    for (const name of [`${e.era} BTF: layout`, `fake kcore, ${e.era} BTF, 5-level`, `fake kcore, ${e.era} BTF, 4-level`]) {
      expect(tap.ok, log).toContain(name);
    }
    // Its own test point: run where bpftool is installed, a counted SKIP where it is not.
    expect([...tap.ok, ...tap.skipped], log).toContain(`${e.era} BTF: bpftool cross-check`);
  }
  const checks = /# (\d+) checks passed, (\d+) failed/.exec(String(r.all));
  expect(Number(checks?.[1]), log).toBeGreaterThan(500);
  expect(r.exitCode, log).toBe(0);
});
