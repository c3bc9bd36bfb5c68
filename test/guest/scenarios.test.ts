// Every built-in scenario in a real guest (one guest per filesystem, shared by the
// scenarios; nothing left running), each report checked against facts read independently
// in the same guest (scenario-checks.ts). Where a verdict depends on the kernel (a finding
// on one era, held on another), the checks follow the kernel: they assert that what the lab
// reports is what the guest shows by other means, so a fixed kernel passes and a false
// finding fails.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, type ScenarioReport } from '../../src/lab/engine.js';
import { validateScenario } from '../../src/lab/scenario.js';
import { replayTranscript } from '../../src/wire/transcript.js';
import { daxlab, qemuProcessesOf, writeProfile } from './cli.js';
import { tempDirs } from '../unit/tempDirs.js';

const recordDir = tempDirs('daxlab-rec-');
import {
  bootGuest,
  byId,
  dmaVsTruncate,
  expectActorsGone,
  faultVsTruncate,
  longtermPin,
  mapDirectLease,
  mapSync,
  pinAccounting,
  run,
  stopGuest,
  vmspliceVsPunch,
  type Guest,
} from './scenario-checks.js';

// ---------------------------------------------------------------------------------------

describe('scenarios on xfs (default profile, one guest)', () => {
  let g: Guest | undefined;
  beforeAll(async () => {
    g = await bootGuest('default');
  });
  afterAll(async () => {
    await stopGuest(g);
  });

  it('map-sync: accepted on the DAX file (VM_SYNC set), refused on tmpfs and anonymous memory', async () => {
    await mapSync(g!);
  });

  it('map-direct-lease: a cooperative holder lets truncate through, a stubborn one is timed out after fs.lease-break-time', async () => {
    await mapDirectLease(g!);
  });

  it('vmsplice-vs-punch: waits while mapped, drained wakes it; after munmap, the punch waits or frees the block under the pipe, as stat shows', async () => {
    await vmspliceVsPunch(g!);
  });

  it('longterm-pin: fsdax refused, anonymous / tmpfs / device-dax pinned; checked against fdinfo, the MR list and /proc/vmstat', async () => {
    await longtermPin(g!);
  });

  it('pin-accounting: the table of deltas; its pin counts add up to /proc/vmstat over the run', async () => {
    await pinAccounting(g!);
  });

  it('fault-vs-truncate: seeded race, no data mismatch against the shadow (and against md5sum of the file), no hang', async () => {
    const r = await faultVsTruncate(g!);
    expect(r.seed).toBe(1);
  });

  it('dma-vs-truncate: the truncater is woken, or not, when the O_DIRECT reference goes, as /proc and stat show', async () => {
    await dmaVsTruncate(g!);
  });
});

describe('scenarios on ext4 (one guest)', () => {
  let g: Guest | undefined;
  beforeAll(async () => {
    g = await bootGuest('ext4');
  });
  afterAll(async () => {
    await stopGuest(g);
  });

  it('vmsplice-vs-punch on ext4', async () => {
    await vmspliceVsPunch(g!);
  });

  it('map-direct-lease on ext4', async () => {
    await mapDirectLease(g!);
  });

  it('fault-vs-truncate on ext4', async () => {
    await faultVsTruncate(g!);
  });

  it('dma-vs-truncate on ext4', async () => {
    await dmaVsTruncate(g!);
  });

  it('hang safety: the hang detector stops the run with every stack; a task left asleep is killed; the guest stays usable', async () => {
    const hung = validateScenario(
      {
        id: 'left-asleep',
        title: 'a punch that nobody lets through',
        summary: 'A pipe keeps a page; the punch waits for it; nobody drains the pipe.',
        actors: [{ name: 'holder' }, { name: 'puncher' }],
        hangDetector: { blockedLongerThan: '2s' },
        steps: [
          { actor: 'holder', do: { op: 'open', path: 'f', create: true, size: '64K' }, say: 'open' },
          { actor: 'holder', do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED'] }, say: 'map' },
          { actor: 'holder', do: { op: 'touch', pages: [0], write: true }, watch: { pages: [0], label: 'f' }, say: 'fault' },
          { actor: 'holder', do: { op: 'vmsplice', pages: [0] }, say: 'the pipe takes page 0' },
          { actor: 'puncher', do: { op: 'open', path: 'f' }, say: 'open' },
          { id: 'punch', actor: 'puncher', do: { op: 'fallocate', mode: 'punch', offset: 0, length: '4K' }, timeout: '20s', say: 'a synchronous punch: it never returns' },
          { actor: 'holder', do: { op: 'drain' }, say: 'never reached', expect: [{ check: 'returns', ok: true }] },
        ],
      },
      'test',
    );
    const r = await runScenario(g!.session, hung);
    expect(r.exitCode).toBe(1);
    const hang = byId(r, 'no-hang');
    expect(hang.status).toBe('violated');
    expect(hang.detail).toMatch(/puncher has been asleep inside its fallocate for \d+ ms \(S in ext4_break_layouts/);
    expect(Object.keys(hang.evidence.stacks as object).sort()).toEqual(['holder', 'puncher']);
    expect(r.steps.at(-1)).toMatchObject({ status: 'not-reached' });
    expect(r.expectations.at(-1)).toMatchObject({ status: 'not-applicable' });
    // The punch was killed in its sleep, and nothing of the run is left.
    expect(r.cleanup.killed).toEqual(['puncher']);
    await expectActorsGone(g!, r);
    expect((await g!.lab.exec(['/bin/busybox', 'ls', r.dirs.dax])).status).not.toBe(0);

    // A precondition that never comes about: could not test (125), the rest not applicable.
    const never = validateScenario(
      {
        id: 'never',
        title: 'waits for a reference nobody takes',
        summary: 's',
        actors: [{ name: 'a' }],
        steps: [
          { actor: 'a', do: { op: 'open', path: 'g', create: true, size: '64K' }, say: 'open' },
          { actor: 'a', do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED'] }, say: 'map' },
          { actor: 'a', do: { op: 'touch', pages: [0], write: true }, watch: { pages: [0], label: 'g' }, say: 'fault' },
          { id: 'wait', say: 'wait', waitFor: { until: { check: 'page', page: 'g#0', aboveIdle: { min: 1 } }, timeout: '1s' }, expect: [{ check: 'page', page: 'g#0', pins: 1 }] },
        ],
      },
      'test',
    );
    const n = await runScenario(g!.session, never);
    expect(n.exitCode).toBe(125);
    expect(n.cannotTest).toMatch(/did not come about/);
    expect(byId(n, 'wait.1').status).toBe('not-applicable');
    await expectActorsGone(g!, n);
  });

  it('longterm-pin on a profile without devdax: the device-dax steps are not applicable, the rest holds', async () => {
    const r = await run(g!, 'longterm-pin');
    expect(r.available.devdax).toBe(false);
    expect(r.exitCode).toBe(0);
    expect(byId(r, 'mr-devdax.1').status).toBe('not-applicable');
    expect(byId(r, 'mr-fsdax.1').status).toBe('held');
  });
});

describe('daxlab run (the command)', () => {
  it('dma-vs-truncate --json --record: the exit code follows the verdicts; they were printed as they ran; the record replays; nothing left running', async () => {
    const record = path.join(recordDir(), 'run.jsonl');
    const r = await daxlab(['run', 'dma-vs-truncate', '--json', '--record', record]);
    const out = JSON.parse(String(r.stdout)) as ScenarioReport & { runDir: string; record: string };
    expect(Object.keys(out)).toEqual(expect.arrayContaining(['scenario', 'kernel', 'profile', 'expectations', 'findings', 'transcript']));
    expect(out.scenario.id).toBe('dma-vs-truncate');
    for (const v of out.expectations) expect(['held', 'violated', 'not-applicable']).toContain(v.status);
    // 1 exactly when an expectation was violated, each violation a finding (git bisect run reads it).
    const violated = out.expectations.filter((v) => v.status === 'violated').map((v) => v.id);
    expect(out.findings.map((f) => f.expectation)).toEqual(violated);
    expect(r.exitCode, String(r.stderr)).toBe(violated.length ? 1 : 0);
    // Steps and verdicts were printed as they ran, each as it came out.
    expect(String(r.stderr)).toMatch(/\[5\] A second task truncates/);
    const woken = out.expectations.find((v) => v.id === 'truncate-woken')!;
    expect(String(r.stderr)).toMatch(woken.status === 'violated' ? /VIOLATED the truncator returns within 2 s/ : /held {4} the truncator returns within 2 s/);
    const replay = replayTranscript(record);
    expect(replay.problems).toEqual([]);
    expect(replay.messages.some((m) => m.kind === 'action' && m.op === 'truncate' && m.phase === 'end')).toBe(true);
    expect(await qemuProcessesOf(path.basename(out.runDir))).toEqual([]);
  });

  it('unknown ids, malformed scenario files and profiles whose fs a scenario cannot use: exit 125 before any boot', async () => {
    const unknown = await daxlab(['run', 'no-such-scenario']);
    expect(unknown.exitCode).toBe(125);
    expect(String(unknown.stderr)).toMatch(/no scenario "no-such-scenario"; known: dma-vs-truncate/);
    const file = writeProfile({ id: 'x', title: 't', summary: 's', actors: [{ name: 'a' }], steps: [{ say: 'go', actor: 'ghost', do: { op: 'munmap' } }] });
    const bad = await daxlab(['run', '--scenario-file', file]);
    expect(bad.exitCode).toBe(125);
    expect(String(bad.stderr)).toMatch(/steps\[0\]\.actor: no actor "ghost" \(declared: a\)/);
    const exported = await daxlab(['scenario', 'export', 'map-sync']);
    expect(exported.exitCode).toBe(0);
    expect(JSON.parse(String(exported.stdout)).id).toBe('map-sync');
  });
});
