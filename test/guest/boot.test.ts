// Boots real guests (TCG is fine) through the real command line and checks what the
// guest kernel reported, plus that nothing of ours is left running afterwards.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BootReport } from '../../src/commands/boot.js';
import { ERA_PROFILES } from '../../src/config/profiles.js';
import { daxlab, newestRunDir, qemuProcessesOf, writeProfile } from './cli.js';
import { loadProfile } from '../../src/config/profiles.js';
import { moduleLoadOrder, requiredModuleGroups } from '../../src/vm/image.js';
import { silentProgress } from '../../src/vm/progress.js';
import { GuestSession } from '../../src/vm/session.js';
import { execResult } from '../../src/wire/protocol.js';
import { LabDriver } from '../../src/lab/driver.js';
import { runSelftest } from '../../src/lab/selftest.js';

/** A cold boot unless asked: these tests are about booting (the warm start has its own). */
async function bootJson(profile: string, opts: { warm?: boolean } = {}): Promise<{ report: BootReport; exitCode: number | undefined; stderr: string }> {
  const r = await daxlab(['boot', '--profile', profile, '--json'], opts.warm ? {} : { env: { DAXLAB_COLD: '1' } });
  expect(r.exitCode, String(r.stderr)).toBe(0);
  return { report: JSON.parse(String(r.stdout)) as BootReport, exitCode: r.exitCode, stderr: String(r.stderr) };
}

async function expectNothingLeft(report: { runDir: string }) {
  const runId = path.basename(report.runDir);
  expect(await qemuProcessesOf(runId)).toEqual([]);
  const argv = JSON.parse(fs.readFileSync(path.join(report.runDir, 'qemu.argv.json'), 'utf8')) as string[];
  const socketArg = argv.find((a) => a.startsWith('socket,id=agent,path='))!;
  const socketDir = path.dirname(/path=([^,]+)/.exec(socketArg)![1]!);
  expect(fs.existsSync(socketDir)).toBe(false);
  // The console log is kept; the NVDIMM backing files are not.
  expect(fs.existsSync(path.join(report.runDir, 'console.log'))).toBe(true);
  expect(fs.readdirSync(report.runDir).filter((f) => f.endsWith('.img'))).toEqual([]);
}

describe('daxlab boot', () => {
  let firstImage = '';

  it('boots the default profile to a DAX-mounted xfs', async () => {
    const { report } = await bootJson('default');
    expect(report.kernel.release).toMatch(/^\d+\.\d+/);
    expect(['kvm', 'tcg']).toContain(report.accel.used);
    expect(report.accel.reason.length).toBeGreaterThan(0);
    // The default profile: the fsdax namespace for the filesystem, and a small devdax one.
    expect(report.nvdimms.map((n) => n.mode)).toEqual(['fsdax', 'devdax']);
    expect(report.nvdimms[1]!.chardev).toMatch(/^dax\d+\.\d+$/);
    expect(report.nvdimms[1]!.size).toBeGreaterThan(0);
    expect(report.nvdimms[1]!.size).toBeLessThanOrEqual(256 * 2 ** 20);
    expect(report.nvdimms[0]!.blockdev).toMatch(/^pmem\d+$/);
    // The namespace is a bit smaller than the NVDIMM (fsdax keeps its memmap on it), never larger.
    expect(report.nvdimms[0]!.size).toBeGreaterThan(0);
    expect(report.nvdimms[0]!.size).toBeLessThanOrEqual(2 ** 30);
    expect(report.mount.fstype).toBe('xfs');
    expect(report.mount.device).toBe(`/dev/${report.nvdimms[0]!.blockdev}`);
    // Two sources for one fact: the kernel's mount options and statx on a fresh file.
    expect(report.mount.options.split(',')).toContain('dax=always');
    expect(report.statxDax).toBe(true);
    const t = report.timings;
    for (const stage of ['image', 'qemuStart', 'kernel', 'init', 'namespace', 'mkfs', 'mount', 'agentHello', 'total'] as const) {
      expect(Number.isInteger(t[stage]), `${stage}: ${t[stage]}`).toBe(true);
    }
    // The host-timed stages follow one another inside the boot: together no longer than it
    // (each is rounded to the millisecond), and the guest-timed set-up fits inside it too.
    expect(t.image + t.qemuStart + t.kernel + t.init, JSON.stringify(t)).toBeLessThanOrEqual(t.total + 3);
    expect(t.namespace + t.mkfs + t.mount, JSON.stringify(t)).toBeLessThanOrEqual(t.total);
    expect(t.total).toBeGreaterThanOrEqual(t.agentHello);
    await expectNothingLeft(report);
    firstImage = report.image.path;
  });

  it('boots the ext4 profile to a DAX-mounted ext4, reusing the cached image', async () => {
    const { report } = await bootJson('ext4');
    expect(report.mount.fstype).toBe('ext4');
    expect(report.mount.options.split(',')).toContain('dax=always');
    expect(report.statxDax).toBe(true);
    expect(report.image.cached).toBe(true);
    if (firstImage) expect(report.image.path).toBe(firstImage);
    await expectNothingLeft(report);
  });

  it('fails fast, with a clear message, on a broken kernel path', async () => {
    const profile = writeProfile({ name: 'broken', kernel: { source: 'path', bzImage: '/nonexistent/bzImage' } });
    const r = await daxlab(['boot', '--profile', profile, '--json']);
    expect(r.exitCode).toBe(125);
    expect(String(r.stderr)).toMatch(/kernel\.bzImage:? \/nonexistent\/bzImage does not exist/);
    expect(String(r.stdout)).toBe('');
  });

  it('reports every error of a broken profile with its path', async () => {
    const profile = writeProfile({ name: 'broken', fs: { type: 'btrfs' }, nvdimms: [] });
    const r = await daxlab(['boot', '--profile', profile]);
    expect(r.exitCode).toBe(125);
    expect(String(r.stderr)).toMatch(/fs\.type/);
    expect(String(r.stderr)).toMatch(/nvdimms/);
  });

  it('stops and reaps QEMU on Ctrl-C during boot', async () => {
    const child = daxlab(['boot', '--profile', 'default'], { buffer: true, forceKillAfterDelay: false });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/\[kernel\] (booting|restoring)/.test(stderr)) resolve();
      });
    });
    const runDir = newestRunDir()!;
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(String(r.stderr)).toMatch(/SIGINT: stopping the guest/);
    await expectNothingLeft({ runDir });
  });

  it('gives up on a hung boot with the console tail, and leaves nothing behind', async () => {
    const profile = writeProfile({ name: 'impatient', accel: 'tcg', bootTimeout: '1s' });
    const r = await daxlab(['boot', '--profile', profile]);
    expect(r.exitCode).toBe(125);
    expect(String(r.stderr)).toMatch(/boot watchdog: the guest agent did not start within 1 s/);
    expect(String(r.stderr)).toMatch(/console tail/);
    const runDir = /console tail \(([^)]+)\/console\.log\)/.exec(String(r.stderr))![1]!;
    await expectNothingLeft({ runDir });
  });
});

describe('boot from the profile\'s NVDIMM template', () => {
  it('finds the namespaces ndctl itself lists, every module loaded that /proc/modules shows, and a fresh DAX filesystem', async () => {
    // The default profile's template exists after the boots above (or this boot makes it).
    const session = await GuestSession.boot(loadProfile('default'), { progress: silentProgress });
    try {
      const exec = async (argv: string[]) => execResult.parse(await session.channel.request({ cmd: 'exec', argv }));
      expect(['template', 'made']).toContain(session.nvdimmSource.kind);
      // Independent source: ndctl reads the same sysfs through libndctl and prints its own JSON.
      const listed = await exec(['/usr/libexec/daxlab/ndctl', 'list', '-N', '-X']);
      expect(listed.status, listed.stderr).toBe(0);
      const raw = JSON.parse(listed.stdout) as unknown;
      const namespaces = (Array.isArray(raw) ? raw : [raw]) as Array<{ dev: string; mode: string; size: number; blockdev?: string; daxregion?: { devices?: Array<{ chardev?: string }> } }>;
      expect(namespaces.length).toBe(session.hello.nvdimms.length);
      for (const ns of session.hello.nvdimms) {
        const theirs = namespaces.find((n) => n.dev === ns.dev)!;
        expect(theirs, ns.dev).toBeDefined();
        expect(theirs.mode).toBe(ns.mode);
        expect(theirs.size).toBe(ns.size);
        expect(theirs.blockdev).toBe(ns.blockdev);
        const chardev = (d?: unknown) => (d as { devices?: Array<{ chardev?: string }> } | undefined)?.devices?.[0]?.chardev;
        expect(chardev(theirs.daxregion)).toBe(chardev(ns.daxregion));
      }
      // Every module of the load order that is not a softdep: loaded, as the kernel lists them.
      const loaded = new Set((await exec(['/bin/cat', '/proc/modules'])).stdout.split('\n').map((l) => l.split(' ')[0]!));
      const wanted = Object.keys(session.hello.timings.moduleLoads ?? {});
      expect(wanted.length).toBeGreaterThan(0);
      const hard = moduleLoadOrder(session.image.modules, requiredModuleGroups(session.profile)).filter((m) => !m.startsWith('?'));
      for (const m of hard) expect(loaded.has(m), m).toBe(true);
      // The filesystem of the template mounts clean and empty: nothing of an earlier run is on it.
      const ls = await exec(['/bin/ls', '-A', '/mnt/dax']);
      expect(ls.stdout.split('\n').filter((l) => l && l !== 'lost+found')).toEqual([]);
    } finally {
      await session.shutdown();
    }
    // Nothing written to the template: the run mapped it private.
    if (session.nvdimmSource.kind !== 'fresh') {
      const meta = JSON.parse(fs.readFileSync(path.join(session.nvdimmSource.dir, 'template.json'), 'utf8')) as { made: string };
      for (const f of fs.readdirSync(session.nvdimmSource.dir).filter((n) => n.endsWith('.img'))) {
        expect(fs.statSync(path.join(session.nvdimmSource.dir, f)).mtimeMs).toBeLessThanOrEqual(Date.parse(meta.made));
      }
    }
  });
});

describe('warm start', () => {
  it('saves the set-up guest once and restores it: the same kernel, namespaces and mount, a live agent, the self-test holds', async () => {
    const profile = loadProfile('default');
    const cold = await GuestSession.boot(profile, { progress: silentProgress, warmStart: false });
    const reference = { release: cold.ready.release, version: cold.ready.version, nvdimms: cold.hello.nvdimms, mount: cold.hello.mount };
    expect(cold.warm.kind).toBe('cold');
    await cold.shutdown();
    // The first boot from the template saves (unless an earlier test's boot did), a later one restores.
    const kinds: string[] = [];
    let session: GuestSession | null = null;
    for (let i = 0; i < 3 && !session; i++) {
      const s = await GuestSession.boot(profile, { progress: silentProgress });
      kinds.push(s.warm.kind);
      if (s.warm.kind === 'restored') session = s;
      else await s.shutdown();
    }
    expect(kinds, kinds.join(' ')).toContain('restored');
    expect(kinds.indexOf('restored'), kinds.join(' ')).toBeLessThanOrEqual(2);
    const restored = session!;
    try {
      expect(restored.ready.release).toBe(reference.release);
      expect(restored.ready.version).toBe(reference.version);
      expect(restored.hello.nvdimms.map((n) => [n.dev, n.mode, n.size, n.blockdev])).toEqual(reference.nvdimms.map((n) => [n.dev, n.mode, n.size, n.blockdev]));
      expect(restored.hello.mount).toEqual(reference.mount);
      const exec = async (argv: string[]) => execResult.parse(await restored.channel.request({ cmd: 'exec', argv }));
      // The kernel's own view of the restored guest, apart from the saved set-up reply.
      const mounts = (await exec(['/bin/cat', '/proc/mounts'])).stdout;
      expect(mounts).toMatch(new RegExp(`^${reference.mount.device} ${reference.mount.mountpoint} xfs \\S*dax=always`, 'm'));
      const ls = await exec(['/bin/ls', '-A', reference.mount.mountpoint]);
      expect(ls.stdout.split('\n').filter((l) => l && l !== 'lost+found')).toEqual([]);
      // The kernel's boot messages are the saved boot's, then this run's.
      const console = fs.readFileSync(restored.files.consoleLog, 'utf8');
      expect(console).toMatch(/daxlab-agent: modules loaded at/);
      expect(console).toMatch(/this guest was restored from the warm start saved/);
      const report = await runSelftest(new LabDriver(restored.channel), restored.hello, restored.ready.release, () => {});
      expect(report.held, JSON.stringify(report.checks.filter((c) => !c.held))).toBe(true);
    } finally {
      await restored.shutdown();
    }
    expect(await qemuProcessesOf(restored.runId)).toEqual([]);
  });
});

describe('daxlab boot, every kernel era', () => {
  // Each era's kernel comes from its own Debian suite, with modules and their load order
  // from that kernel's own index: the boot reaches a DAX mount on all of them.
  for (const era of ERA_PROFILES) {
    it(`${era.profile} (${era.era}) boots its suite's kernel to a DAX-mounted xfs, every module loaded`, async () => {
      const { report } = await bootJson(era.profile);
      expect(report.kernel.release).toMatch(era.release);
      expect(report.kernel.origin).toMatch(/^Debian /);
      expect(report.mount.fstype).toBe('xfs');
      expect(report.mount.options.split(',')).toContain('dax=always');
      expect(report.statxDax).toBe(true);
      // Apart from the channel: the agent's module loaders' own console lines.
      const console = fs.readFileSync(path.join(report.runDir, 'console.log'), 'utf8');
      expect(console).toMatch(/daxlab-agent: modules loaded at [\d.]+s: \d+ loaded, \d+ there already, 0 failed/);
      expect(console).not.toMatch(/daxlab-agent: module \S+ failed/);
      await expectNothingLeft(report);
    });
  }
});
