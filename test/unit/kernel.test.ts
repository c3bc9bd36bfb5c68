import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateProfile } from '../../src/config/profiles.js';
import { bzImageRelease, checkKernel, KernelError, parseKernelConfig, requiredOptions } from '../../src/vm/kernel.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-kernel-'));

function fakeBzImage(release: string): string {
  const buf = Buffer.alloc(0x1000);
  buf.write('HdrS', 0x202, 'latin1');
  buf.writeUInt16LE(0x600 - 0x200, 0x20e);
  buf.write(`${release} (builder@host) #1 SMP`, 0x600, 'latin1');
  const file = path.join(tmp(), 'bzImage');
  fs.writeFileSync(file, buf);
  return file;
}

describe('kernel', () => {
  const profile = validateProfile({ name: 'k' }, 'k');

  it('reads the release from the bzImage setup header', () => {
    expect(bzImageRelease(fakeBzImage('6.12.0-rc1-dax'))).toBe('6.12.0-rc1-dax');
    const notKernel = path.join(tmp(), 'x');
    fs.writeFileSync(notKernel, 'hello');
    expect(() => bzImageRelease(notKernel)).toThrow(/not a bzImage/);
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
