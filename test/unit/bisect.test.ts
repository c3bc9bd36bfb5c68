// Bisect over released kernels: the listing between two packages (names and versions as
// the lab's apt lists of bookworm-backports have them), the search with skips, and
// --tree's `git bisect run` on a small repository whose step script stands in for the
// kernel build (the real script is checked by sh -n).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bisectTree, firstBadCommit, treeStepScript } from '../../src/commands/bisectTree.js';
import { bisectExit, compareVersions, describeAnswer, maxSteps, nextStep, parseImageName, releasesBetween, upstreamVersion, type StepResult } from '../../src/lab/bisect.js';
import { tempDirs } from './tempDirs.js';

// What `apt-cache pkgnames linux-image-` and `apt-cache show` give for bookworm-backports
// (2026-12-01), cut to a few releases, with another flavour and line mixed in.
const backports: Array<[string, string]> = [
  ['linux-image-6.12.43+deb12-amd64', '6.12.43-1~bpo12+1'],
  ['linux-image-6.12.57+deb12-amd64', '6.12.57-1~bpo12+1'],
  ['linux-image-6.12.69+deb12-amd64', '6.12.69-1~bpo12+1'],
  ['linux-image-6.12.9+deb12-amd64', '6.12.9-1~bpo12+1'],
  ['linux-image-6.12.73+deb12-amd64', '6.12.73-1~bpo12+1'],
  ['linux-image-6.12.74+deb12-amd64', '6.12.74-2~bpo12+1'],
  ['linux-image-6.12.57+deb12-cloud-amd64', '6.12.57-1~bpo12+1'],
  ['linux-image-6.12.57+deb12-rt-amd64', '6.12.57-1~bpo12+1'],
  ['linux-image-6.1.0-57-amd64', '6.1.192-3'],
];
const names = [...backports.map(([n]) => n), 'linux-image-amd64', 'linux-image-6.12.57+deb12-amd64-dbg', 'linux-image-6.12.57+deb12-amd64-unsigned'];
const versions = new Map(backports);

describe('the released kernels between two', () => {
  it('names: ABI, flavour and family; debug and unsigned images are not kernels to boot', () => {
    expect(parseImageName('linux-image-6.12.43+deb12-amd64')).toMatchObject({ abi: '6.12.43+deb12', flavour: 'amd64', family: '+deb12' });
    expect(parseImageName('linux-image-6.12.57+deb12-cloud-amd64')).toMatchObject({ flavour: 'cloud-amd64' });
    expect(parseImageName('linux-image-6.1.0-57-amd64')).toMatchObject({ abi: '6.1.0-57', flavour: 'amd64', family: '6.1.0-N' });
    expect(parseImageName('linux-image-amd64')).toBeNull();
    expect(parseImageName('linux-image-6.12.57+deb12-amd64-dbg')).toBeNull();
    expect(upstreamVersion('6.12.74-2~bpo12+1')).toBe('6.12.74');
    expect(compareVersions('6.12.9', '6.12.43')).toBeLessThan(0);
  });

  it('one flavour, in version order (6.12.9 before 6.12.43), both ends included', () => {
    const list = releasesBetween(names, versions, 'linux-image-6.12.9+deb12-amd64', 'linux-image-6.12.73+deb12-amd64');
    expect(list.map((r) => r.upstream)).toEqual(['6.12.9', '6.12.43', '6.12.57', '6.12.69', '6.12.73']);
    expect(list.every((r) => parseImageName(r.package)!.flavour === 'amd64')).toBe(true);
    // The ends may be given newest first (bisecting for a fix).
    expect(releasesBetween(names, versions, 'linux-image-6.12.73+deb12-amd64', 'linux-image-6.12.9+deb12-amd64')).toEqual(list);
  });

  it('refuses mixed flavours, lines, and packages the lists do not have', () => {
    expect(() => releasesBetween(names, versions, 'linux-image-6.12.43+deb12-amd64', 'linux-image-6.12.57+deb12-cloud-amd64')).toThrow(/different flavours/);
    expect(() => releasesBetween(names, versions, 'linux-image-6.1.0-57-amd64', 'linux-image-6.12.57+deb12-amd64')).toThrow(/named differently/);
    expect(() => releasesBetween(names, versions, 'linux-image-6.12.43+deb12-amd64', 'linux-image-6.12.99+deb12-amd64')).toThrow(/not in the suite's package lists/);
    expect(() => releasesBetween(names, versions, 'linux-image-amd64', 'linux-image-6.12.57+deb12-amd64')).toThrow(/not a versioned kernel image/);
  });
});

/** Drive nextStep with a kernel whose results are `truth` (index -> exit code). */
function search(truth: number[]): { tested: number[]; answer: ReturnType<typeof nextStep> } {
  const results: StepResult[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const next = nextStep(truth.length, results);
    if ('done' in next) return { tested: results.map((r) => r.index), answer: next };
    expect(results.some((r) => r.index === next.test), 'a release is never run twice').toBe(false);
    results.push({ index: next.test, exitCode: truth[next.test]! });
  }
  throw new Error('no answer');
}

describe('the search', () => {
  it('a regression: first bad and last good, ends first, within log2 steps', () => {
    for (let change = 1; change < 9; change++) {
      const truth = Array.from({ length: 9 }, (_, i) => (i < change ? 0 : 1));
      const { tested, answer } = search(truth);
      expect(tested.slice(0, 2)).toEqual([0, 8]);
      expect(tested.length).toBeLessThanOrEqual(maxSteps(9));
      expect(answer).toEqual({ done: { kind: 'change', lastOld: change - 1, firstNew: change, oldCode: 0, newCode: 1, skipped: [] } });
    }
  });

  it('a fix (bad old end, good new end) is found the same way', () => {
    const { answer } = search([1, 1, 1, 0, 0]);
    expect(answer).toMatchObject({ done: { kind: 'change', lastOld: 2, firstNew: 3, oldCode: 1, newCode: 0 } });
  });

  it('ends that agree: no change in range, after two runs', () => {
    const { tested, answer } = search([1, 0, 1]);
    expect(tested).toEqual([0, 2]);
    expect(answer).toEqual({ done: { kind: 'no-change', code: 1 } });
  });

  it('125 skips: the search steps around it; when only skipped releases are left the range is named', () => {
    expect(search([0, 125, 0, 1, 1]).answer).toMatchObject({ done: { kind: 'change', lastOld: 2, firstNew: 3 } });
    expect(search([0, 125, 1]).answer).toMatchObject({ done: { kind: 'ambiguous', lastOld: 0, firstNew: 2, skipped: [1] } });
    expect(search([125, 0, 1]).answer).toMatchObject({ done: { kind: 'cannot-test', index: 0 } });
    expect(search([0, 3, 1]).answer).toMatchObject({ done: { kind: 'bug', index: 1 } });
  });

  it('the answer in words, with the upstream stable range', () => {
    const list = releasesBetween(names, versions, 'linux-image-6.12.43+deb12-amd64', 'linux-image-6.12.73+deb12-amd64');
    const { answer } = search([0, 0, 1, 1]);
    if (!('done' in answer)) throw new Error('no answer');
    const text = describeAnswer(list, answer.done).join('\n');
    expect(text).toContain('first bad:  linux-image-6.12.69+deb12-amd64 (6.12.69-1~bpo12+1)');
    expect(text).toContain('last good:  linux-image-6.12.57+deb12-amd64');
    expect(text).toContain('upstream stable range: v6.12.57..v6.12.69');
    expect(bisectExit(answer.done)).toBe(0);
    expect(describeAnswer(list, { kind: 'no-change', code: 1 })[0]).toMatch(/^no change in range: the finding on both ends/);
  });
});

describe('--tree', () => {
  const tmp = tempDirs('daxlab-tree-');
  it('the step script is valid sh and maps a daxlab bug to 255 (git bisect stops instead of reading "bad")', () => {
    const dir = tmp();
    const script = path.join(dir, 'step.sh');
    fs.writeFileSync(script, treeStepScript({ tree: "/src/linux's", outDir: dir, scenario: 'dma-vs-truncate', templateFile: path.join(dir, 't.json'), daxlab: '/x/bin/daxlab.mjs', seed: 2 }));
    execFileSync('sh', ['-n', script]);
    const text = fs.readFileSync(script, 'utf8');
    expect(text).toContain(`tree='/src/linux'\\''s'`);
    expect(text).toMatch(/\*\) exit 255 ;;/);
    expect(text).toContain("run 'dma-vs-truncate' --profile \"$step.profile.json\" --seed 2 --json");
    expect(firstBadCommit('Bisecting: 0 revisions left\nabc1234def is the first bad commit\ncommit abc')).toBe('abc1234def');
  });

  it('git bisect run over a small history finds the commit that made the step exit 1', async () => {
    const repo = tmp();
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { encoding: 'utf8' }).trim();
    git('init', '-q');
    const commits: string[] = [];
    for (let i = 0; i < 6; i++) {
      fs.writeFileSync(path.join(repo, 'state'), i >= 4 ? `broken ${i}\n` : `fine ${i}\n`);
      git('add', 'state');
      git('commit', '-q', '-m', `step ${i}`);
      commits.push(git('rev-parse', 'HEAD'));
    }
    const lines: string[] = [];
    const out = tmp();
    // Outside the tree: the step script is no file of the history being bisected.
    const script = path.join(out, 'step.sh');
    fs.writeFileSync(script, '#!/bin/sh\ngrep -q broken state && exit 1\nexit 0\n', { mode: 0o755 });
    const write = process.stdout.write.bind(process.stdout);
    let printed = '';
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await bisectTree({ scenario: 'x', tree: repo, good: commits[0]!, bad: commits[5]!, profile: 'default', outDir: out, say: (l) => lines.push(l), script });
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    expect(printed).toContain(`first bad commit: ${commits[4]!.slice(0, 7)}`);
    expect(printed).toContain('step 4');
    expect(fs.readFileSync(path.join(out, 'bisect.log'), 'utf8')).toContain('# first bad commit');
    // The tree is left as it was found.
    expect(git('rev-parse', 'HEAD')).toBe(commits[5]);
    expect(() => git('bisect', 'log'), 'no bisect left in progress').toThrow();
  }, 60_000);
});
