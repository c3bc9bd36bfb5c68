import { describe, expect, it } from 'vitest';
import { validateProfile } from '../../src/config/profiles.js';
import { templateInputs, templateKey } from '../../src/vm/nvdimmTemplate.js';

describe('NVDIMM template key', () => {
  const base = { name: 't', memory: '2G', nvdimms: [{ size: '1G', mode: 'fsdax' }, { size: '256M', mode: 'devdax' }], fs: { type: 'xfs', mkfsOptions: ['-m', 'reflink=0'] } };
  const stamp = (changed?: string) => (file: string) => `${file} ${file === changed ? 2 : 1}`;
  const key = (raw: object, release = '6.1.0-57-amd64', qemu = '7.2.22', s = stamp()) => templateKey(templateInputs(validateProfile({ ...base, ...raw }, 't'), release, qemu, s));

  it('is the same for the same bytes-shaping inputs, whatever the profile is called or samples at', () => {
    expect(key({})).toBe(key({ name: 'other', sampling: { hz: 50 }, fs: { ...base.fs, mountOptions: ['dax=always'] }, sysctls: {} }));
    // 1G and 1024M are the same NVDIMM.
    expect(key({})).toBe(key({ nvdimms: [{ size: '1024M', mode: 'fsdax' }, { size: '256M', mode: 'devdax' }] }));
  });

  it('changes with the sizes, modes and order of the NVDIMMs, the memory, the fs, mkfs options, kernel, QEMU and tools', () => {
    const k = key({});
    const others = [
      key({ nvdimms: [{ size: '2G', mode: 'fsdax' }, { size: '256M', mode: 'devdax' }] }),
      key({ nvdimms: [{ size: '1G', mode: 'fsdax' }, { size: '256M', mode: 'fsdax' }] }),
      key({ nvdimms: [{ size: '256M', mode: 'devdax' }, { size: '1G', mode: 'fsdax' }] }),
      key({ nvdimms: [{ size: '1G', mode: 'fsdax' }] }),
      key({ memory: '4G' }),
      key({ fs: { type: 'ext4', mkfsOptions: [] } }),
      key({ fs: { type: 'xfs', mkfsOptions: ['-m', 'reflink=0', '-b', 'size=4096'] } }),
      key({}, '6.12.95+deb12-amd64'),
      key({}, undefined, '8.0.0'),
      key({}, undefined, undefined, stamp('/usr/sbin/mkfs.xfs')),
      key({}, undefined, undefined, stamp('/usr/bin/ndctl')),
      key({}, undefined, undefined, stamp('/etc/mke2fs.conf')),
    ];
    for (const o of others) expect(o).not.toBe(k);
    expect(new Set(others).size).toBe(others.length);
  });
});
