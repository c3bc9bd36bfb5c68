import { describe, expect, it } from 'vitest';
import {
  emptyModuleIndex,
  moduleNameOf,
  parseAliases,
  parseBuiltinAliases,
  parseModulesDep,
  parseSoftdeps,
  resolveLoadOrder,
  type ModuleIndex,
} from '../../src/vm/modules.js';

function index(parts: Partial<ModuleIndex>): ModuleIndex {
  return { ...emptyModuleIndex(), ...parts };
}

describe('module index parsing', () => {
  it('names modules as kmod does, whatever their compression', () => {
    expect(moduleNameOf('kernel/arch/x86/crypto/crc32c-intel.ko')).toBe('crc32c_intel');
    expect(moduleNameOf('kernel/fs/xfs/xfs.ko.xz')).toBe('xfs');
    expect(moduleNameOf('kernel/fs/xfs/xfs.ko.zst')).toBe('xfs');
  });

  it('reads softdeps with pre and post parts, and names before "pre:" as pre', () => {
    const s = parseSoftdeps('# comment\nsoftdep libcrc32c pre: crc32c\nsoftdep cifs gcm\nsoftdep vfio post: vfio_iommu_type1 vfio_iommu_spapr_tce\nsoftdep a pre: b post: c\n');
    expect(s.get('libcrc32c')).toEqual({ pre: ['crc32c'], post: [] });
    expect(s.get('cifs')).toEqual({ pre: ['gcm'], post: [] });
    expect(s.get('vfio')).toEqual({ pre: [], post: ['vfio_iommu_type1', 'vfio_iommu_spapr_tce'] });
    expect(s.get('a')).toEqual({ pre: ['b'], post: ['c'] });
  });

  it('reads the aliases of built-in code from modules.builtin.modinfo', () => {
    const m = parseBuiltinAliases('crc32c_generic.alias=crypto-crc32c\0crc32c_generic.license=GPL\0libcrc32c.softdep=pre: crc32c\0');
    expect(m.get('crypto_crc32c')).toBe('crc32c_generic');
    expect(m.size).toBe(1);
  });
});

describe('load order', () => {
  const modules = parseModulesDep(
    [
      'kernel/a.ko: kernel/b.ko kernel/c.ko',
      'kernel/b.ko: kernel/c.ko',
      'kernel/c.ko:',
      'kernel/pre.ko.xz:',
      'kernel/post.ko:',
      'kernel/x.ko:',
      'kernel/y.ko: kernel/x.ko',
      'kernel/nic-pci.ko:',
    ].join('\n'),
  );

  it('puts every hard dependency before its user, each module once', () => {
    const r = resolveLoadOrder(index({ modules }), ['a', 'b']);
    expect(r.order.map((s) => s.name)).toEqual(['c', 'b', 'a']);
    expect(r.order.every((s) => !s.soft)).toBe(true);
  });

  it('puts softdep pre modules first and post modules after, reached through aliases', () => {
    const r = resolveLoadOrder(
      index({
        modules,
        softdeps: parseSoftdeps('softdep a pre: crypto-thing\nsoftdep a post: post\n'),
        aliases: parseAliases('alias crypto-thing pre\n'),
      }),
      ['a'],
    );
    expect(r.order.map((s) => s.name)).toEqual(['pre', 'c', 'b', 'a', 'post']);
    expect(r.order.filter((s) => s.soft).map((s) => s.name)).toEqual(['pre', 'post']);
    expect(r.order[0]!.file).toBe('kernel/pre.ko.xz');
    // What each must wait for when the guest loads several at once: deps, pre before, post after.
    const after = Object.fromEntries(r.order.map((s) => [s.name, [...s.after].sort()]));
    expect(after).toEqual({ pre: [], c: [], b: ['c'], a: ['b', 'c', 'pre'].sort(), post: ['a'] });
    for (const [i, step] of r.order.entries()) for (const dep of step.after) expect(r.order.findIndex((s) => s.name === dep)).toBeLessThan(i);
  });

  it('keeps a module hard when it is both a softdep and needed for real', () => {
    const r = resolveLoadOrder(index({ modules, softdeps: parseSoftdeps('softdep y pre: c\n') }), ['y', 'b']);
    expect(r.order.map((s) => `${s.soft ? '?' : ''}${s.name}`)).toEqual(['c', 'x', 'y', 'b']);
  });

  it('survives a softdep cycle', () => {
    const r = resolveLoadOrder(index({ modules, softdeps: parseSoftdeps('softdep x pre: y\n') }), ['y']);
    expect(r.order.map((s) => s.name)).toEqual(['x', 'y']);
  });

  it('matches wildcard aliases and loads every provider', () => {
    const r = resolveLoadOrder(index({ modules, aliases: parseAliases('alias pci:v00008086d*sv* nic-pci\nalias pci:v00001AF4d* x\n') }), [
      'pci:v00008086d00001234sv00000000',
    ]);
    expect(r.order.map((s) => s.name)).toEqual(['nic_pci']);
  });

  it('skips what is built in (by name or alias) and reports what is missing, optional apart', () => {
    const r = resolveLoadOrder(
      index({ modules, builtin: new Set(['virtio_pci']), builtinAliases: parseBuiltinAliases('crc32c_generic.alias=crypto-crc32c\0') }),
      ['virtio-pci', 'crypto-crc32c', 'crc32c_generic', { name: 'crypto-crc32', optional: true }, 'gone'],
    );
    expect(r.order).toEqual([]);
    expect(r.builtin).toEqual(['virtio-pci', 'crypto-crc32c']);
    expect(r.missing).toEqual(['crc32c_generic', 'crypto-crc32', 'gone']);
    expect(r.missingRequired).toEqual(['crc32c_generic', 'gone']);
  });
});
