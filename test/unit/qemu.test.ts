import { describe, expect, it } from 'vitest';
import { validateProfile } from '../../src/config/profiles.js';
import { parseSize } from '../../src/config/units.js';
import { agentSocket, qemuArgv, qmpSocket, type RunFiles } from '../../src/vm/qemu.js';

const files: RunFiles = { socketDir: '/tmp/daxlab-x', consoleLog: '/run/x/console.log', nvdimmFiles: ['/run/x/nv0.img', '/run/x/nv1.img'] };

function argOf(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));
}

describe('qemu argv', () => {
  const profile = validateProfile(
    { name: 't', memory: '2G', nvdimms: [{ size: '1G', mode: 'fsdax' }, { size: '256M', mode: 'devdax' }] },
    't',
  );

  it('builds an NVDIMM machine with one file backend per nvdimm, slots in order', () => {
    const argv = qemuArgv({ profile, accel: 'tcg', kernelImage: '/k', initrd: '/i', files, name: 'n' });
    expect(argOf(argv, '-machine')).toEqual(['pc,nvdimm=on']);
    expect(argOf(argv, '-object')).toEqual([
      'memory-backend-file,id=nvmem0,share=on,mem-path=/run/x/nv0.img,size=1G',
      'memory-backend-file,id=nvmem1,share=on,mem-path=/run/x/nv1.img,size=256M',
    ]);
    expect(argOf(argv, '-device').filter((d) => d.startsWith('nvdimm'))).toEqual([
      'nvdimm,id=nvdimm0,memdev=nvmem0,slot=0',
      'nvdimm,id=nvdimm1,memdev=nvmem1,slot=1',
    ]);
    const [mem] = argOf(argv, '-m');
    const maxmem = parseSize(/maxmem=(\w+)/.exec(mem!)![1]!);
    // Room for RAM plus every NVDIMM.
    expect(maxmem).toBeGreaterThanOrEqual(parseSize('2G') + parseSize('1G') + parseSize('256M'));
    expect(mem).toMatch(/^2G,slots=3,/);
  });

  it('decides the TSC at boot under TCG only (tsc=unstable), KVM keeps the guest\'s own clock choice', () => {
    const params = (accel: 'tcg' | 'kvm') => argOf(qemuArgv({ profile, accel, kernelImage: '/k', initrd: '/i', files, name: 'n' }), '-append')[0]!.split(' ');
    expect(params('tcg')).toContain('tsc=unstable');
    expect(params('kvm').filter((p) => p.startsWith('tsc='))).toEqual([]);
  });

  it('maps the NVDIMM template private, and adds the lab\'s kernel parameters', () => {
    const argv = qemuArgv({ profile, accel: 'tcg', kernelImage: '/k', initrd: '/i', files, name: 'n', privateNvdimms: true, kernelParams: ['daxlab.modules=a,?b'] });
    expect(argOf(argv, '-object').map((o) => /share=(\w+)/.exec(o)![1])).toEqual(['off', 'off']);
    expect(argOf(argv, '-append')[0]!.split(' ')).toContain('daxlab.modules=a,?b');
    expect(argOf(argv, '-append')[0]!.split(' ')).toContain('rdinit=/init');
  });

  it('uses TCG with -cpu max, KVM with -cpu host', () => {
    const tcg = qemuArgv({ profile, accel: 'tcg', kernelImage: '/k', initrd: '/i', files, name: 'n' });
    expect(argOf(tcg, '-accel')).toEqual(['tcg,thread=multi']);
    expect(argOf(tcg, '-cpu')).toEqual(['max']);
    const kvm = qemuArgv({ profile, accel: 'kvm', kernelImage: '/k', initrd: '/i', files, name: 'n' });
    expect(argOf(kvm, '-accel')).toEqual(['kvm']);
    expect(argOf(kvm, '-cpu')).toEqual(['host']);
  });

  it('wires the console to a file, the agent to a virtio-serial socket and QMP to a socket', () => {
    const argv = qemuArgv({ profile, accel: 'tcg', kernelImage: '/k', initrd: '/i', files, name: 'n' });
    expect(argOf(argv, '-chardev')).toEqual([
      'file,id=console,path=/run/x/console.log',
      `socket,id=agent,path=${agentSocket(files)},server=on,wait=off`,
    ]);
    expect(argOf(argv, '-device')).toContain('virtserialport,bus=vser0.0,chardev=agent,name=org.daxlab.agent');
    expect(argOf(argv, '-qmp')).toEqual([`unix:${qmpSocket(files)},server=on,wait=off`]);
    expect(argv).toContain('-no-reboot');
    expect(argOf(argv, '-append')[0]).toMatch(/console=ttyS0/);
  });

  it('never passes anything through a shell: every value is its own argv element', () => {
    const hostile = validateProfile({ name: 't2' }, 't2');
    const argv = qemuArgv({
      profile: hostile,
      accel: 'tcg',
      kernelImage: '/path with spaces/$(rm -rf)/bzImage',
      initrd: '/i',
      files,
      name: 'n',
    });
    expect(argOf(argv, '-kernel')).toEqual(['/path with spaces/$(rm -rf)/bzImage']);
  });
});
