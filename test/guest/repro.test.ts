// The standalone C reproducer (daxlab scenario export <id> --format c) in a real guest:
// built on the host (static), copied in, run on the lab's DAX mount and null_blk, and
// its exit compared with what `daxlab run` reports for the same scenario on the same
// kernel: 1 where the lab has the finding (6.1), 0 where the scenario holds
// (lts-6.12 for dma-vs-truncate, sid for vmsplice-vs-punch). Which eras run:
// DAXLAB_REPRO_PROFILES (comma separated; default all three).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportC } from '../../src/lab/exportC.js';
import { findScenario } from '../../src/lab/scenarios/index.js';
import { bootGuest, run, stopGuest, type Guest } from './scenario-checks.js';

const PLAN: Record<string, string[]> = {
  default: ['dma-vs-truncate', 'vmsplice-vs-punch'],
  'lts-6.12': ['dma-vs-truncate'],
  sid: ['vmsplice-vs-punch'],
};
const only = process.env.DAXLAB_REPRO_PROFILES?.split(',').filter(Boolean);
const profiles = Object.keys(PLAN).filter((p) => !only || only.includes(p));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'findings-repro-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function build(id: string): string {
  const c = exportC(findScenario(id).scenario);
  if (!c.ok) throw new Error(c.why);
  const src = path.join(work, `${id}.c`);
  fs.writeFileSync(src, c.c);
  const bin = path.join(work, id);
  execFileSync('gcc', ['-Wall', '-Wextra', '-Werror', '-O2', '-static', '-o', bin, src], { stdio: 'pipe' });
  return bin;
}

/** The binary into the guest through the agent's exec: gzip + base64 in argv-sized chunks. */
async function upload(g: Guest, bin: string, dest: string): Promise<void> {
  const b64 = zlib.gzipSync(fs.readFileSync(bin)).toString('base64');
  await g.lab.exec(['/bin/busybox', 'rm', '-f', `${dest}.b64`]);
  for (let i = 0; i < b64.length; i += 100_000) {
    const r = await g.lab.exec(['/bin/busybox', 'sh', '-c', 'printf %s "$1" >> "$2"', 'sh', b64.slice(i, i + 100_000), `${dest}.b64`]);
    expect(r.status, r.stderr).toBe(0);
  }
  const r = await g.lab.exec(['/bin/busybox', 'sh', '-c', '/bin/busybox base64 -d "$1.b64" | /bin/busybox gunzip > "$1" && /bin/busybox chmod 755 "$1" && /bin/busybox rm "$1.b64"', 'sh', dest]);
  expect(r.status, r.stderr).toBe(0);
}

for (const profile of profiles) {
  describe(`the C reproducer agrees with daxlab run (${profile})`, () => {
    let g: Guest | undefined;
    beforeAll(async () => {
      g = await bootGuest(profile);
    });
    afterAll(async () => {
      await stopGuest(g);
    });

    for (const id of PLAN[profile]!) {
      it(`${id}: the same verdict from user space`, async () => {
        let report = await run(g!, id);
        if (report.exitCode === 125) {
          // Could not test is the lab being honest, not a verdict to compare: say why, once
          // more. Seen once in CI (session 5, default, first run after boot), not reproduced
          // in 7 runs after it; the reason was not kept then.
          console.log(`--- ${id} on ${profile}: the lab could not test (${report.cannotTest}); running it once more ---`);
          report = await run(g!, id);
        }
        if (process.env.DAXLAB_REPRO_OUT) fs.writeFileSync(path.join(process.env.DAXLAB_REPRO_OUT, `${id}-${profile}.json`), JSON.stringify(report, null, 2));
        expect([0, 1], `${id} on ${profile}: cannot test: ${report.cannotTest}`).toContain(report.exitCode);
        const bin = build(id);
        const dest = `/tmp/repro-${id}`;
        await upload(g!, bin, dest);
        const dir = `/mnt/dax/repro-${id}-${process.pid}`;
        await g!.lab.exec(['/bin/busybox', 'mkdir', '-p', dir]);
        const needsNullb = !!findScenario(id).scenario.needs.nullBlk;
        const out = await g!.lab.exec([dest, dir, ...(needsNullb ? ['/dev/nullb0'] : [])], 120_000);
        await g!.lab.exec(['/bin/busybox', 'rm', '-rf', dir, dest]);
        const text = `${out.stdout}\n${out.stderr}`;
        console.log(`--- ${id} reproducer on ${profile} (exit ${out.status}; lab exit ${report.exitCode}) ---\n${text}`);
        // exit 1 exactly where the lab reports the finding, 0 where it holds
        expect(out.status, `${id} on ${profile}: lab exit ${report.exitCode} (${report.findings.map((f) => f.expectation).join(', ') || 'held'}); reproducer:\n${text}`).toBe(report.exitCode);
        if (report.exitCode === 1) {
          expect(text).toContain('REPRODUCED');
          // the violated expectation is one the lab found violated too
          for (const f of report.findings.filter((x) => /truncate-woken|punch-waits-unmapped/.test(x.expectation))) expect(text).toMatch(new RegExp(`VIOLATED ${f.expectation}:`));
        } else expect(text).toMatch(/^\[.*\] held: /m);
      });
    }
  });
}
