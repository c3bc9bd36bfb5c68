// compare, matrix and bisect as a user runs them (the CLI), kept cheap: one scenario
// (vmsplice-vs-punch, among the shortest), two guests for `compare`, two for `matrix` and
// two for `bisect`, whose ends are the same two kernels as the matrix's cells: the cells
// are the direct runs each bisect end is checked against.
//
// Nothing here names a kernel's bug. Each run is checked against what its own transcript
// shows by other means than the verdicts (the agent's replies to the puncher's and the
// holder's commands, the puncher's sampled stacks: the raw record, folded by the reducer,
// not the engine's predicates), so a kernel that fixes the punch passes and a lab that
// misreports it fails; the compare, the grid and the bisect answer are then checked to
// follow from the runs.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Comparison } from '../../src/lab/compare.js';
import type { ScenarioReport } from '../../src/lab/engine.js';
import { openKernelIndex } from '../../src/commands/kernelIndex.js';
import { parseImageName, releasesBetween } from '../../src/lab/bisect.js';
import { stateFromTranscript } from '../../src/lab/record.js';
import { silentProgress } from '../../src/vm/progress.js';
import { daxlab, repoRoot } from './cli.js';
import { BREAK_LAYOUTS } from './scenario-checks.js';
import { tempDirs } from '../unit/tempDirs.js';

const SCENARIO = 'vmsplice-vs-punch';
type RunJson = ScenarioReport & { record: string | null; runDir: string };

// Removed when the file's tests end (guest runs had left ~30 of these in /tmp).
const tmpDir = tempDirs('daxlab-guest-compare-');
const tmp = (_what: string) => tmpDir();
const status = (r: ScenarioReport, id: string) => r.expectations.find((e) => e.id === id)?.status;

/**
 * One vmsplice-vs-punch run against its own transcript: the kernel it reports is the one
 * the agent said hello from; the punch that had to wait for the pipe waited (its reply
 * came after the drain began, the puncher sampled asleep in break-layouts meanwhile) or
 * did not, exactly as the verdicts say; the exit code follows the findings.
 */
function checkRun(r: RunJson, transcript: string): void {
  const { state } = stateFromTranscript(transcript);
  expect(state.kernel?.release).toBe(r.kernel.release);
  const punches = state.actions.filter((a) => a.actor === 'puncher' && a.op === 'fallocate');
  const drains = state.actions.filter((a) => a.actor === 'holder' && a.op === 'drain');
  expect(punches.length).toBe(2);
  expect(drains.length).toBe(2);
  const history = state.actors.puncher?.history ?? [];
  const asleepInBreak = (p: (typeof punches)[number]) =>
    history.some((tr, i) => {
      const until = history[i + 1]?.t ?? Infinity;
      return tr.t <= p.end! && until >= p.start! && tr.state === 'S' && (BREAK_LAYOUTS.test(tr.wchan) || tr.stack.some((f) => BREAK_LAYOUTS.test(f)));
    });
  const waited = (p: (typeof punches)[number], d: (typeof drains)[number]) => p.end! >= d.start! && asleepInBreak(p);
  for (const [i, id] of [
    [0, 'punch.1'],
    [1, 'punch-waits-unmapped'],
  ] as const) {
    const p = punches[i]!;
    expect(p.end, `${id}: the punch returned`).not.toBeNull();
    expect(p.ret, `${id}: the punch succeeded`).toBe(0);
    const s = status(r, id);
    expect(['held', 'violated']).toContain(s);
    expect(waited(p, drains[i]!), `${id} is ${s}: the punch ${s === 'held' ? 'waited for' : 'did not wait for'} the drain`).toBe(s === 'held');
  }
  expect(r.exitCode).toBe(r.findings.length ? 1 : 0);
  expect(r.findings.map((f) => f.expectation).sort()).toEqual(r.expectations.filter((e) => e.status === 'violated').map((e) => e.id).sort());
}

describe('daxlab compare', () => {
  it(`${SCENARIO} on default and sid: each side as its transcript shows, the table follows from the two, exit as diff(1)`, async () => {
    const dir = tmp('compare');
    const r = await daxlab(['compare', SCENARIO, '--profile', 'default', '--profile', 'sid', '--json', '--record', dir]);
    const out = JSON.parse(String(r.stdout)) as Comparison & { runs: { a: { report: RunJson }; b: { report: RunJson } } };
    const a = out.runs.a.report;
    const b = out.runs.b.report;
    // Each side really ran its profile's kernel, and did what its transcript shows.
    expect(a.profile.name).toBe('default');
    expect(b.profile.name).toBe('sid');
    checkRun(a, a.record!);
    checkRun(b, b.record!);
    expect(out.a.release).toBe(a.kernel.release);
    expect(out.b.release).toBe(b.kernel.release);
    // The comparison follows from the two reports alone: an id differs exactly when its
    // status does (not applicable on one side is not comparable), differences first.
    const ids = [...new Set([...a.expectations, ...b.expectations].map((e) => e.id))];
    for (const id of ids) {
      const sa = status(a, id);
      const sb = status(b, id);
      const kind = sa === sb ? 'same' : sa === 'not-applicable' || sb === 'not-applicable' ? 'not-comparable' : 'differs';
      expect(out.expectations.find((e) => e.id === id)?.kind, id).toBe(kind);
    }
    const kinds = out.expectations.map((e) => e.kind);
    expect(kinds).toEqual([...kinds].sort((x, y) => ['differs', 'not-comparable', 'same'].indexOf(x) - ['differs', 'not-comparable', 'same'].indexOf(y)));
    const findingsDiffer = JSON.stringify(out.findings.a.sort()) !== JSON.stringify(out.findings.b.sort());
    const differ = kinds.includes('differs') || out.differences.cells > 0 || findingsDiffer;
    expect(out.exitCode).toBe(differ ? 1 : 0);
    expect(r.exitCode).toBe(out.exitCode);
    // The text form kept with the records: 72 columns, the differing ids under Differences.
    const text = fs.readFileSync(path.join(dir, 'compare.txt'), 'utf8');
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(72);
    const differences = /^Differences \(\d+\):\n([\s\S]*?)\n\n/m.exec(text)?.[1] ?? '';
    for (const e of out.expectations) expect(differences.includes(`  ${e.id}: `), e.id).toBe(e.kind === 'differs');
  });
});

/** The two newest released 6.12.y image packages of bookworm-backports, oldest first, as the lab's own apt lists have them. */
async function newestPair(): Promise<Array<{ package: string; version: string }>> {
  const index = await openKernelIndex('bookworm-backports', silentProgress);
  const names = (await index.imagePackages())
    .filter((n) => /^linux-image-6\.12\.\d+\+deb12-amd64$/.test(n) && parseImageName(n))
    .sort((x, y) => x.localeCompare(y, 'en', { numeric: true }));
  const versions = await index.versions(names);
  const all = releasesBetween(names, versions, names[0]!, names[names.length - 1]!);
  return all.slice(-2).map((r) => ({ package: r.package, version: r.version }));
}

describe('daxlab matrix and bisect on the two newest released 6.12.y kernels', () => {
  let ends: Array<{ package: string; version: string; profile: string; release: string }> = [];
  const cells = new Map<string, RunJson>();
  const profileDir = tmp('ends');
  beforeAll(async () => {
    const template = JSON.parse(fs.readFileSync(path.join(repoRoot, 'profiles/lts-6.12.json'), 'utf8')) as Record<string, unknown>;
    ends = (await newestPair()).map((e) => {
      const release = e.package.replace(/^linux-image-/, '');
      const name = `bpo-${release.split('+')[0]}`;
      const profile = path.join(profileDir, `${name}.json`);
      fs.writeFileSync(profile, JSON.stringify({ ...template, name, kernel: { source: 'debian', package: e.package, suite: 'bookworm-backports' } }));
      return { ...e, profile, release };
    });
    expect(ends.length).toBe(2);
  }, 300_000);

  it('matrix: two cells, each as its transcript shows; merge of its directory gives the same grid', async () => {
    const dir = tmp('matrix');
    const r = await daxlab(['matrix', '--profiles', ends.map((e) => e.profile).join(','), '--scenarios', SCENARIO, '--out', dir, '--json']);
    const grid = JSON.parse(String(r.stdout)) as { exitCode: number; profiles: string[]; scenarios: string[] };
    expect(r.exitCode).toBe(grid.exitCode);
    const files = fs.readdirSync(dir).filter((f) => /^cell\+.*\.json$/.test(f));
    expect(files.length).toBe(2);
    for (const f of files) {
      const report = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as RunJson;
      const end = ends.find((e) => report.profile.name === path.basename(e.profile, '.json'))!;
      expect(report.kernel.release, f).toBe(end.release);
      checkRun(report, report.record!);
      cells.set(end.package, report);
    }
    // The grid the matrix printed is the one rebuilt from its cell files alone.
    const merged = await daxlab(['matrix', 'merge', dir, '--json']);
    expect(JSON.parse(String(merged.stdout))).toEqual(grid);
    expect(merged.exitCode).toBe(r.exitCode);
    const text = await daxlab(['matrix', 'merge', dir]);
    // (execa drops the last newline of what a command prints)
    expect(String(text.stdout)).toBe(fs.readFileSync(path.join(dir, 'grid.txt'), 'utf8').replace(/\n$/, ''));
  });

  it('bisect between them: only the ends run, each with the verdict of its direct run; the answer follows from the two', async () => {
    expect(cells.size, 'the matrix cells are the direct runs').toBe(2);
    const dir = tmp('bisect');
    const r = await daxlab(['bisect', SCENARIO, '--good', ends[0]!.profile, '--bad', ends[1]!.profile, '--out', dir, '--json']);
    const summary = JSON.parse(String(r.stdout)) as {
      releases: Array<{ package: string; upstream: string }>;
      steps: Array<{ release: { package: string }; exitCode: number; files: string; findings: string[] }>;
      answer: { kind: string; code?: number; lastOld?: number; firstNew?: number };
      text: string[];
      exitCode: number;
    };
    expect(summary.releases.map((x) => x.package)).toEqual(ends.map((e) => e.package));
    expect(summary.steps.map((s) => s.release.package).sort()).toEqual(ends.map((e) => e.package).sort());
    for (const s of summary.steps) {
      const direct = cells.get(s.release.package)!;
      const report = JSON.parse(fs.readFileSync(`${s.files}.json`, 'utf8')) as RunJson;
      checkRun(report, report.record!);
      // The same kernel, the same scenario: the bisect's verdict is the direct run's.
      expect(s.exitCode, s.release.package).toBe(direct.exitCode);
      expect(s.findings.sort()).toEqual(direct.findings.map((f) => f.expectation).sort());
    }
    const [older, newer] = ends.map((e) => summary.steps.find((s) => s.release.package === e.package)!.exitCode);
    if (older === newer) {
      expect(summary.answer).toMatchObject({ kind: 'no-change', code: older });
      expect(summary.text[0]).toMatch(/^no change in range: /);
    } else {
      expect(summary.answer).toMatchObject({ kind: 'change', lastOld: 0, firstNew: 1 });
      expect(summary.text.join('\n')).toContain(`v${summary.releases[0]!.upstream}..v${summary.releases[1]!.upstream}`);
    }
    expect(r.exitCode).toBe(summary.exitCode);
    expect(summary.exitCode).toBe(0);
  });
});
