import { execaSync } from 'execa';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { manifestInputsKey, manifestKey, moduleEntries, moduleLoadOrder, missingModules, planModules, requiredModuleGroups, parseLdd, type ManifestEntry } from '../../src/vm/image.js';
import { parseAliases, parseBuiltin, parseModulesDep, parseSoftdeps, type ModuleIndex } from '../../src/vm/modules.js';

describe('library closure', () => {
  it('finds every library of the real ndctl, and the loader', () => {
    const { stdout } = execaSync('ldd', ['/usr/bin/ndctl']);
    const libs = parseLdd(stdout);
    expect(libs.some((l) => /libndctl\.so/.test(l))).toBe(true);
    expect(libs.some((l) => /ld-linux-x86-64\.so\.2$/.test(l))).toBe(true);
    expect(libs.every((l) => fs.existsSync(l))).toBe(true);
    // Independent source: the ELF's own DT_NEEDED entries must all be in the closure.
    const needed = execaSync('objdump', ['-p', '/usr/bin/ndctl'])
      .stdout.split('\n')
      .flatMap((line) => /NEEDED\s+(\S+)/.exec(line)?.slice(1) ?? []);
    expect(needed.length).toBeGreaterThan(2);
    for (const name of needed) expect(libs.some((l) => l.endsWith(`/${name}`))).toBe(true);
  });

  it('refuses a binary with an unresolved library', () => {
    expect(() => parseLdd('\tlibmissing.so.1 => not found\n')).toThrow(/not found/);
  });
});

describe('image cache key', () => {
  const stat = (sizes: Record<string, number>) => (p: string) => ({ size: sizes[p] ?? 1, mtimeMs: 1000 });
  const entries: ManifestEntry[] = [
    { type: 'dir', dest: 'bin' },
    { type: 'file', dest: 'bin/busybox', src: '/bin/busybox', mode: 0o755 },
    { type: 'data', dest: 'etc/daxlab/modules', data: 'nfit\n' },
  ];

  it('is stable for the same inputs in any order', () => {
    expect(manifestKey(entries, stat({}))).toBe(manifestKey([...entries].reverse(), stat({})));
  });

  it('changes when a host file, a generated file or the entry list changes', () => {
    const key = manifestKey(entries, stat({}));
    expect(manifestKey(entries, stat({ '/bin/busybox': 2 }))).not.toBe(key);
    expect(manifestKey([entries[0]!, entries[1]!, { type: 'data', dest: 'etc/daxlab/modules', data: 'nd_pmem\n' }], stat({}))).not.toBe(key);
    expect(manifestKey(entries.slice(0, 2), stat({}))).not.toBe(key);
  });
});

describe('manifest inputs key (no file read, only stamps)', () => {
  const kernel = { release: '6.1.0-57-amd64', modulesDir: '/k/lib/modules/6.1.0-57-amd64' };
  const stamps = (changed?: string) => (file: string) => `${file} ${file === changed ? 2 : 1}`;

  it('is the same for the same stamps', () => {
    expect(manifestInputsKey(kernel, '/a/daxlab-agent', stamps())).toBe(manifestInputsKey(kernel, '/a/daxlab-agent', stamps()));
  });

  it('changes with the agent, a tool, the module index, the loader cache or the kernel', () => {
    const key = manifestInputsKey(kernel, '/a/daxlab-agent', stamps());
    for (const file of ['/a/daxlab-agent', '/usr/bin/ndctl', '/usr/sbin/mkfs.xfs', `${kernel.modulesDir}/modules.dep`, `${kernel.modulesDir}/modules.softdep`, '/etc/ld.so.cache', '/bin/busybox']) {
      expect(manifestInputsKey(kernel, '/a/daxlab-agent', stamps(file)), file).not.toBe(key);
    }
    expect(manifestInputsKey(kernel, '/b/daxlab-agent', stamps())).not.toBe(key);
    expect(manifestInputsKey({ ...kernel, release: '6.1.0-58-amd64' }, '/a/daxlab-agent', stamps())).not.toBe(key);
    expect(manifestInputsKey({ ...kernel, modulesDir: null }, '/a/daxlab-agent', stamps())).not.toBe(key);
  });
});

describe('the lab\'s modules from the kernel\'s index', () => {
  // The shape of Debian 6.1 (crc32c is a crypto module reached through libcrc32c's softdep)
  // and of 7.2 (crc32c is library code, virtio built in, every module .ko.xz).
  const v61: ModuleIndex = {
    modules: parseModulesDep(
      [
        'kernel/crypto/crc32c_generic.ko:',
        'kernel/arch/x86/crypto/crc32c-intel.ko:',
        'kernel/lib/libcrc32c.ko:',
        'kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko',
        'kernel/drivers/virtio/virtio.ko:',
        'kernel/drivers/virtio/virtio_ring.ko:',
        'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
        'kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
        'kernel/drivers/nvdimm/libnvdimm.ko:',
        'kernel/drivers/nvdimm/nd_btt.ko: kernel/drivers/nvdimm/libnvdimm.ko',
        'kernel/drivers/nvdimm/nd_pmem.ko: kernel/drivers/nvdimm/nd_btt.ko kernel/drivers/nvdimm/libnvdimm.ko',
        'kernel/drivers/acpi/nfit/nfit.ko: kernel/drivers/nvdimm/libnvdimm.ko',
      ].join('\n'),
    ),
    softdeps: parseSoftdeps('softdep libcrc32c pre: crc32c\n'),
    aliases: parseAliases('alias crypto-crc32c crc32c_generic\nalias crc32c crc32c_generic\nalias crc32c crc32c_intel\n'),
    builtin: parseBuiltin(''),
    builtinAliases: new Map(),
  };
  const v72: ModuleIndex = {
    modules: parseModulesDep(
      [
        'kernel/fs/xfs/xfs.ko.xz:',
        'kernel/drivers/nvdimm/libnvdimm.ko.xz:',
        'kernel/drivers/nvdimm/nd_btt.ko.xz: kernel/drivers/nvdimm/libnvdimm.ko.xz',
        'kernel/drivers/nvdimm/nd_pmem.ko.xz: kernel/drivers/nvdimm/nd_btt.ko.xz kernel/drivers/nvdimm/libnvdimm.ko.xz',
        'kernel/drivers/acpi/nfit/nfit.ko.xz: kernel/drivers/nvdimm/libnvdimm.ko.xz',
      ].join('\n'),
    ),
    softdeps: new Map(),
    aliases: [],
    builtin: parseBuiltin('kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/char/virtio_console.ko\n'),
    builtinAliases: new Map(),
  };
  const profile = { fs: { type: 'xfs' as const }, nvdimms: [{ mode: 'fsdax' as const }] };

  it('loads the softdep before libcrc32c and xfs on 6.1, and marks it soft', () => {
    const order = moduleLoadOrder(planModules(v61), ['xfs']);
    expect(order).toEqual(['?crc32c_generic', '?crc32c_intel', 'libcrc32c', 'xfs']);
  });

  it('boots 6.1 with every dependency before its user', () => {
    const order = moduleLoadOrder(planModules(v61), ['boot']);
    for (const [before, after] of [['virtio', 'virtio_pci'], ['virtio_ring', 'virtio_console'], ['libnvdimm', 'nd_btt'], ['nd_btt', 'nd_pmem'], ['libnvdimm', 'nfit']]) {
      expect(order.indexOf(before!)).toBeGreaterThanOrEqual(0);
      expect(order.indexOf(before!)).toBeLessThan(order.indexOf(after!));
    }
    expect(new Set(order).size).toBe(order.length);
  });

  it('skips what 7.2 has built in or no longer has, and needs nothing it lacks', () => {
    const plan = planModules(v72);
    expect(moduleLoadOrder(plan, ['xfs'])).toEqual(['xfs']);
    expect(plan.groups.boot.builtin).toEqual(['virtio_pci', 'virtio_console']);
    expect(moduleLoadOrder(plan, ['boot'])).toEqual(['libnvdimm', 'nfit', 'nd_btt', 'nd_pmem']);
    expect(missingModules(plan, requiredModuleGroups(profile))).toEqual([]);
    // rdma is not needed by this profile: its absence is reported, not refused.
    expect(plan.groups.rdma.missing).toContain('rdma_rxe');
    expect(plan.groups.rdma.missingRequired).not.toContain('crypto-crc32');
  });

  it('refuses a kernel without a module the profile needs, saying what it is for', () => {
    const plan = planModules(v72);
    const missing = missingModules(plan, requiredModuleGroups({ fs: { type: 'ext4' }, nvdimms: [{ mode: 'fsdax' }, { mode: 'devdax' }] }));
    expect(missing).toEqual(['ext4 (the ext4 filesystem)', 'dax_pmem (device-dax namespaces)', 'device_dax (device-dax namespaces)']);
    // No modules tree at all: nothing to say here (the .config check speaks for that kernel).
    expect(missingModules(planModules(null), ['boot'])).toEqual([]);
  });

  it('puts compressed modules into the image uncompressed, under their .ko name', () => {
    const kernel = { release: '7.2.13+deb14-amd64', bzImage: '/k', modulesDir: '/m/lib/modules/7.2.13+deb14-amd64', configFile: null, origin: 't' };
    const entries = moduleEntries(kernel, planModules(v72));
    expect(entries).toContainEqual({
      type: 'file',
      dest: 'lib/modules/7.2.13+deb14-amd64/kernel/fs/xfs/xfs.ko',
      src: '/m/lib/modules/7.2.13+deb14-amd64/kernel/fs/xfs/xfs.ko.xz',
      decompress: 'xz',
    });
    expect(entries.filter((e) => e.type === 'file' && e.dest.endsWith('.xz'))).toEqual([]);
  });
});
