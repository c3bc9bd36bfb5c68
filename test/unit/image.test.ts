import { execaSync } from 'execa';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { manifestKey, parseLdd, parseShowDepends, type ManifestEntry } from '../../src/vm/image.js';

describe('module closure', () => {
  it('parses modprobe --show-depends, in load order, builtins apart', () => {
    const out = [
      'insmod /k/lib/modules/6.1.0-56-amd64/kernel/crypto/crc32c_generic.ko ',
      'insmod /k/lib/modules/6.1.0-56-amd64/kernel/lib/libcrc32c.ko ',
      'insmod /k/lib/modules/6.1.0-56-amd64/kernel/fs/xfs/xfs.ko ',
      'builtin virtio_pci',
    ].join('\n');
    expect(parseShowDepends(out)).toEqual([
      { kind: 'insmod', path: '/k/lib/modules/6.1.0-56-amd64/kernel/crypto/crc32c_generic.ko' },
      { kind: 'insmod', path: '/k/lib/modules/6.1.0-56-amd64/kernel/lib/libcrc32c.ko' },
      { kind: 'insmod', path: '/k/lib/modules/6.1.0-56-amd64/kernel/fs/xfs/xfs.ko' },
      { kind: 'builtin', name: 'virtio_pci' },
    ]);
  });
});

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
