import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { paths } from '../../src/paths.js';
import { findWarmState, keepWarmState, listWarmStates, sweepWarmSaves, warmSaveDir, warmInputs, warmKey } from '../../src/vm/warmStart.js';
import { tempDirs } from './tempDirs.js';

const tmp = tempDirs('daxlab-warm-');
const savedCache = paths.cache;
afterAll(() => {
  paths.cache = savedCache;
});

const runA = { consoleLog: '/s/runs/A/console.log', runDir: '/s/runs/A', socketDir: '/tmp/daxlab-aaa', runId: 'A' };
const runB = { consoleLog: '/s/runs/B/console.log', runDir: '/s/runs/B', socketDir: '/tmp/daxlab-bbb', runId: 'B' };
const argvOf = (r: typeof runA, extra: string[] = []) => [
  '-name', `daxlab-${r.runId},debug-threads=on`,
  '-chardev', `file,id=console,path=${r.consoleLog}`,
  '-chardev', `socket,id=agent,path=${r.socketDir}/agent.sock,server=on,wait=off`,
  '-qmp', `unix:${r.socketDir}/qmp.sock,server=on,wait=off`,
  ...extra,
];
const stamp = (changed?: string) => (file: string) => `${file} ${file === changed ? 2 : 1}`;
const inputs = (r: typeof runA, o: { extra?: string[]; s?: (f: string) => string; setup?: unknown; qemu?: string } = {}) =>
  warmInputs({
    qemuVersion: o.qemu ?? '7.2.22',
    argv: argvOf(r, o.extra),
    runPaths: r,
    files: ['/c/vmlinux', '/c/initrd.img', '/c/nvdimm/k/nvdimm0.img'],
    setup: o.setup ?? { cmd: 'setup', fs: { type: 'xfs' } },
    accel: 'tcg',
    stamp: o.s ?? stamp(),
  });

describe('warm start key', () => {
  it('is the same for two runs of the same inputs: the run paths are not part of it', () => {
    expect(warmKey(inputs(runA))).toBe(warmKey(inputs(runB)));
    expect(JSON.stringify(inputs(runA))).not.toContain('/s/runs/A');
  });

  it('changes with the command line, the kernel, initramfs and template files, the set-up and QEMU', () => {
    const k = warmKey(inputs(runA));
    const others = [
      warmKey(inputs(runA, { extra: ['-smp', '4'] })),
      warmKey(inputs(runA, { s: stamp('/c/vmlinux') })),
      warmKey(inputs(runA, { s: stamp('/c/initrd.img') })),
      warmKey(inputs(runA, { s: stamp('/c/nvdimm/k/nvdimm0.img') })),
      warmKey(inputs(runA, { setup: { cmd: 'setup', fs: { type: 'xfs' }, sysctls: { 'fs.lease-break-time': '5' } } })),
      warmKey(inputs(runA, { qemu: '8.0.0' })),
    ];
    for (const o of others) expect(o).not.toBe(k);
    expect(new Set(others).size).toBe(others.length);
  });
});

describe('warm state files', () => {
  it('appear whole, are found by their inputs, and one is kept per profile', () => {
    paths.cache = tmp();
    const consoleLog = path.join(paths.cache, 'console.log');
    fs.writeFileSync(consoleLog, 'boot messages\n');
    const save = (i: ReturnType<typeof inputs>, bytes: number) => {
      const f = warmSaveDir();
      fs.writeFileSync(f.file, Buffer.alloc(bytes, 1));
      return keepWarmState({ dir: f.dir, consoleLog }, i, {
        profile: 'default',
        savedAt: '2026-12-02T00:00:00Z',
        hello: { any: 1 },
        savedBoot: { agentHello: 5000, accel: 'tcg' },
        saveMs: 10,
      });
    };
    expect(findWarmState(inputs(runA))).toBeNull();
    const first = save(inputs(runA), 100);
    const found = findWarmState(inputs(runB));
    expect(found?.dir).toBe(first.dir);
    expect(found?.meta.bytes).toBe(100);
    expect(fs.readFileSync(found!.consoleLog, 'utf8')).toBe('boot messages\n');
    // a state cut short (its size is not the one recorded) is not used
    fs.truncateSync(found!.state, 50);
    expect(findWarmState(inputs(runA))).toBeNull();
    // another state of the same profile replaces it
    const second = save(inputs(runA, { qemu: '8.0.0' }), 10);
    expect(listWarmStates().map((s) => s.dir)).toEqual([second.dir]);
    expect(fs.readdirSync(path.join(paths.cache, 'warm')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a save whose process is gone is swept; one in progress stays', () => {
    paths.cache = tmp();
    const f = warmSaveDir();
    fs.writeFileSync(f.file, 'half a state');
    sweepWarmSaves(() => true);
    expect(fs.existsSync(f.dir)).toBe(true);
    sweepWarmSaves((pid) => pid === process.pid);
    expect(fs.existsSync(f.dir)).toBe(true);
    sweepWarmSaves(() => false);
    expect(fs.existsSync(f.dir)).toBe(false);
  });
});
