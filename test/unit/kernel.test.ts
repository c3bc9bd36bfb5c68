import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateProfile } from '../../src/config/profiles.js';
import { bzImageRelease, checkKernel, KernelError, parseKernelConfig, locateUnpackedKernel, readBzImageHeader, requiredOptions } from '../../src/vm/kernel.js';
import { paths } from '../../src/paths.js';
import { tempDirs } from './tempDirs.js';

const tmp = tempDirs('daxlab-kernel-');

/**
 * A synthetic bzImage: the setup header as Documentation/arch/x86/boot.rst lays it out, the
 * version string where kernel_version points (0x200 + the u16 at 0x20e), inside setup code
 * of setupSects sectors, then a payload.
 */
function fakeBzImage(release: string, opts: { versionAt?: number; setupSects?: number; protocol?: number } = {}): string {
  const setupSects = opts.setupSects ?? 39;
  const versionAt = opts.versionAt ?? 0x44c0; // where Debian's 6.12 bzImage has it: past 16 KiB
  const buf = Buffer.alloc((setupSects + 1) * 512 + 4096);
  buf[0x1f1] = setupSects;
  buf.writeUInt16LE(0xaa55, 0x1fe);
  buf.write('HdrS', 0x202, 'latin1');
  buf.writeUInt16LE(opts.protocol ?? 0x020f, 0x206);
  buf.writeUInt16LE(versionAt - 0x200, 0x20e);
  buf.write(`${release} (builder@host) #1 SMP PREEMPT_DYNAMIC`, versionAt, 'latin1');
  const file = path.join(tmp(), 'bzImage');
  fs.writeFileSync(file, buf);
  return file;
}

describe('kernel', () => {
  const profile = validateProfile({ name: 'k' }, 'k');

  it('reads the release from the bzImage setup header, wherever kernel_version points', () => {
    expect(bzImageRelease(fakeBzImage('6.12.95+deb12-amd64'))).toBe('6.12.95+deb12-amd64');
    expect(bzImageRelease(fakeBzImage('7.2.13+deb14-amd64', { versionAt: 0x4500 }))).toBe('7.2.13+deb14-amd64');
    expect(bzImageRelease(fakeBzImage('6.1.0-57-amd64', { versionAt: 0x3ac0, setupSects: 30 }))).toBe('6.1.0-57-amd64');
    const header = readBzImageHeader(fakeBzImage('6.1.192'));
    expect(header).toMatchObject({ release: '6.1.192', protocol: '2.15', setupBytes: 40 * 512 });
    expect(header.version).toContain('#1 SMP');
  });

  it('refuses what is not a readable bzImage, saying what it is', () => {
    const dir = tmp();
    const notKernel = path.join(dir, 'x');
    fs.writeFileSync(notKernel, 'hello');
    expect(() => bzImageRelease(notKernel)).toThrow(/not a bzImage/);
    expect(() => bzImageRelease(dir)).toThrow(KernelError);
    expect(() => bzImageRelease(dir)).toThrow(/is a directory/);
    const elf = path.join(dir, 'vmlinux');
    fs.writeFileSync(elf, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(1024)]));
    expect(() => bzImageRelease(elf)).toThrow(/ELF file \(a vmlinux\?\)/);
    expect(() => bzImageRelease(path.join(dir, 'nope'))).toThrow(KernelError);
    // A pointer past the setup code is not followed into the payload.
    expect(() => bzImageRelease(fakeBzImage('6.1', { versionAt: 41 * 512, setupSects: 39 }))).toThrow(/past the setup code/);
    expect(() => bzImageRelease(fakeBzImage('6.1', { protocol: 0x0105 }))).toThrow(/names no kernel version/);
  });

  // The host's own kernels and every Debian kernel the lab has unpacked in its cache. A
  // machine with none skips the test and says so (it used to pass over an empty list).
  const realImages = (() => {
    const images = fs.existsSync('/boot') ? fs.readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')).map((f) => ({ image: `/boot/${f}`, release: f.slice(8) })) : [];
    const store = path.join(paths.cache, 'kernels');
    for (const dir of fs.existsSync(store) ? fs.readdirSync(store) : []) {
      if (!fs.existsSync(path.join(store, dir, 'kernel.json'))) continue;
      const found = locateUnpackedKernel(path.join(store, dir, 'root'));
      // Independent source: the name of the package's module directory.
      images.push({ image: found.bzImage, release: path.basename(found.modulesDir) });
    }
    return images;
  })();
  it.skipIf(realImages.length === 0)('reads the header of every real kernel image on this machine (the release matches its modules)', () => {
    for (const { image, release } of realImages) expect(bzImageRelease(image)).toBe(release);
  });

  it('names every missing option, and =m without a modules tree', () => {
    const dir = tmp();
    const config = path.join(dir, 'config');
    fs.writeFileSync(config, 'CONFIG_LIBNVDIMM=m\nCONFIG_XFS_FS=y\nCONFIG_FS_DAX=y\n# CONFIG_DEBUG_INFO_BTF is not set\n');
    const kernel = { release: 'x', bzImage: '/k', modulesDir: null, configFile: config, origin: 'test' };
    let message = '';
    try {
      checkKernel(kernel, profile);
    } catch (err) {
      expect(err).toBeInstanceOf(KernelError);
      message = (err as Error).message;
    }
    expect(message).toContain('CONFIG_DEBUG_INFO_BTF is not set');
    expect(message).toContain('CONFIG_LIBNVDIMM=m but the profile gives no modules tree');
    expect(message).not.toContain('CONFIG_XFS_FS');
    expect(message).not.toContain('CONFIG_FS_DAX ');
  });

  it('accepts a config that has every required option', () => {
    const dir = tmp();
    const config = path.join(dir, 'config');
    fs.writeFileSync(config, requiredOptions(profile).map((o) => `CONFIG_${o.option}=y`).join('\n'));
    const kernel = { release: 'x', bzImage: '/k', modulesDir: null, configFile: config, origin: 'test' };
    expect(checkKernel(kernel, profile)).toContain('FS_DAX');
  });

  it('parses config lines', () => {
    const cfg = parseKernelConfig('CONFIG_A=y\nCONFIG_B="str"\n# CONFIG_C is not set\n');
    expect(cfg.get('A')).toBe('y');
    expect(cfg.get('B')).toBe('"str"');
    expect(cfg.has('C')).toBe(false);
  });
});
