// profiles/daxlab.config must give a kernel that runs the lab when merged into a real
// x86_64_defconfig: olddefconfig drops an option whose dependencies are missing without a
// word, so merge it into Debian's linux-source-6.1 (fetched once with the lab's own apt into
// the cache, only what Kconfig reads unpacked) and check every option the lab relies on.
// No build: defconfig, merge and olddefconfig take seconds.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot, paths } from '../../src/paths.js';
import { hostDebianMirrors, SuiteApt } from '../../src/vm/debian.js';
import { LAB_OPTIONS, parseKernelConfig } from '../../src/vm/kernel.js';
import { silentProgress } from '../../src/vm/progress.js';

const SOURCE_PACKAGE = 'linux-source-6.1';

/** The Kconfig part of the kernel source, in the cache. */
async function kconfigTree(): Promise<string> {
  const store = path.join(paths.cache, 'kconfig');
  const tree = path.join(store, SOURCE_PACKAGE);
  if (fs.existsSync(path.join(tree, '.unpacked'))) return tree;
  fs.rmSync(tree, { recursive: true, force: true });
  const work = fs.mkdtempSync(path.join(store + '-'));
  try {
    const apt = new SuiteApt(paths.cache, 'bookworm', hostDebianMirrors());
    await apt.update(silentProgress);
    const pkg = await apt.show(SOURCE_PACKAGE);
    if (!pkg) throw new Error(`the lab's bookworm lists have no ${SOURCE_PACKAGE}`);
    await apt.download([pkg], work, silentProgress);
    const deb = fs.readdirSync(work).find((f) => f.endsWith('.deb'))!;
    await execa('dpkg-deb', ['-x', path.join(work, deb), path.join(work, 'root')]);
    const tarball = path.join(work, 'root/usr/src', `${SOURCE_PACKAGE}.tar.xz`);
    fs.mkdirSync(store, { recursive: true });
    const top = SOURCE_PACKAGE;
    await execa('tar', ['xf', tarball, '-C', store, '--wildcards', '*Kconfig*', `${top}/Makefile`, `${top}/scripts/*`, `${top}/arch/x86/configs/*`, `${top}/arch/x86/Makefile*`, `${top}/kernel/configs/*`]);
    fs.writeFileSync(path.join(tree, '.unpacked'), `${pkg.version}\n`);
    return tree;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

describe('profiles/daxlab.config', () => {
  it('merged into x86_64_defconfig of a real kernel source, keeps every option the lab relies on', async () => {
    const tree = await kconfigTree();
    const fragment = path.join(packageRoot, 'profiles/daxlab.config');
    await execa('make', ['-s', 'x86_64_defconfig'], { cwd: tree });
    await execa('scripts/kconfig/merge_config.sh', ['-m', '.config', fragment], { cwd: tree });
    await execa('make', ['-s', 'olddefconfig'], { cwd: tree });
    const config = parseKernelConfig(fs.readFileSync(path.join(tree, '.config'), 'utf8'));

    // The lab's own list (the one the pre-boot check uses): required and scenario options alike.
    const lacking = LAB_OPTIONS.filter((o) => !['y', 'm'].includes(config.get(o.option) ?? '')).map((o) => o.option);
    expect(lacking).toEqual([]);
    // What the agent cannot load as a module, built in.
    for (const option of ['ZONE_DEVICE', 'FS_DAX', 'DEBUG_INFO_BTF', 'PROC_KCORE', 'KALLSYMS_ALL', 'PVH', 'KPROBE_EVENTS']) expect(config.get(option)).toBe('y');

    // Independent of that list: every line of the fragment survived olddefconfig.
    const dropped = fs
      .readFileSync(fragment, 'utf8')
      .split('\n')
      .map((l) => /^CONFIG_([A-Z0-9_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .filter((m) => config.get(m[1]!) !== m[2])
      .map((m) => `${m[1]}=${m[2]} (got ${config.get(m[1]!) ?? 'unset'})`);
    expect(dropped).toEqual([]);
  }, 600_000);
});
