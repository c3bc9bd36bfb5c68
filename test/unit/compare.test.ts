// The pure diff of two runs (src/lab/compare.ts) and its 72-column text form, on reports
// recorded with `daxlab run --json` (test/fixtures/compare/) and on variants of them that
// say what a kernel of another era reports (each variant names what it changes and why).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { compareRuns, CompareError, kernelLine, type ComparedRun, type RunReport } from '../../src/lab/compare.js';
import { compareText } from '../../src/screens/compareReport.js';

const fixtures = path.join(import.meta.dirname, '../fixtures');
const load = (name: string): RunReport => JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8')) as RunReport;
const run = (label: string, report: RunReport | null, extra: Partial<ComparedRun> = {}): ComparedRun => ({ label, report, exitCode: report?.exitCode ?? 125, ...extra });
const clone = <T>(x: T): T => structuredClone(x);

const xfs61 = load('compare/dma-vs-truncate-6.1-xfs.report.json');
const ext461 = load('compare/dma-vs-truncate-6.1-ext4.report.json');
const xfs612 = load('compare/dma-vs-truncate-6.12-xfs.report.json');

/** 6.1's recorded dma-vs-truncate as a kernel that wakes the truncater would report it. */
function withWakeUp(r: RunReport): RunReport {
  const b = clone(r);
  const woken = b.expectations.find((e) => e.id === 'truncate-woken')!;
  woken.status = 'held';
  woken.detail = "truncator's truncate returned 12 ms after victim#0 came back to its idle refcount";
  b.findings = [];
  b.verdict = 'held';
  b.exitCode = 0;
  return b;
}

function checkText(text: string): void {
  for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(72);
  expect(text).toMatch(/^[\x00-\x7f]*$/);
}

describe('compareRuns', () => {
  it('a run against itself: every expectation the same, exit 0', () => {
    const c = compareRuns(run('default', xfs61), run('again', clone(xfs61)));
    expect(c.exitCode).toBe(0);
    expect(c.expectations.map((e) => e.kind)).toEqual(xfs61.expectations.map(() => 'same'));
    expect(c.expectations.map((e) => e.id)).toEqual(xfs61.expectations.map((e) => e.id));
    expect(c.findings).toEqual({ a: ['truncate-woken'], b: ['truncate-woken'] });
    expect(c.outcome).toContain(`agree on all ${xfs61.expectations.length} comparable`);
  });

  it('xfs and ext4 on 6.1, both recorded: the same statuses and finding, exit 0, both sides evidence shown', () => {
    const c = compareRuns(run('default', xfs61), run('ext4', ext461));
    const statuses = (r: RunReport) => r.expectations.map((e) => `${e.id}=${e.status}`);
    const agree = JSON.stringify(statuses(xfs61)) === JSON.stringify(statuses(ext461)) && xfs61.findings.length === ext461.findings.length;
    expect(agree).toBe(true);
    expect(c.exitCode).toBe(0);
    expect(c.expectations.every((e) => e.kind === 'same')).toBe(true);
    const text = compareText(c);
    checkText(text);
    // Each filesystem's own break-layouts function, from each run's evidence.
    expect(text).toMatch(/A {3}\[held\] truncator was asleep \(S\) in\s+xfs_break_dax_layouts/);
    expect(text).toMatch(/B {3}\[held\] truncator was asleep \(S\) in\s+ext4_break_layouts/);
    expect(text).toMatch(/A,B \[held\] dma's open returned 4/);
    expect(text).toContain(`B: ext4: ${ext461.kernel.release}, era 6.1, fsdax idle refcount ${ext461.kernel.fsdaxIdleRefcount}, ext4`);
  });

  it('6.1 against 6.12, both recorded: the statuses that differ come first, exit 1', () => {
    const c = compareRuns(run('default', xfs61), run('lts-6.12', xfs612));
    // Independently of compare.ts: the ids whose status differs, where both decided.
    const status = (r: RunReport) => new Map(r.expectations.map((e) => [e.id, e.status]));
    const [sa, sb] = [status(xfs61), status(xfs612)];
    const decided = (s?: string) => s === 'held' || s === 'violated';
    const differing = [...sa.keys()].filter((id) => decided(sa.get(id)) && decided(sb.get(id)) && sa.get(id) !== sb.get(id));
    expect(differing.length).toBeGreaterThan(0);
    expect(c.exitCode).toBe(1);
    expect(c.expectations.slice(0, differing.length).map((e) => e.id).sort()).toEqual([...differing].sort());
    expect(c.expectations.slice(differing.length).every((e) => e.kind !== 'differs')).toBe(true);
    const text = compareText(c);
    checkText(text);
    expect(text).toContain(`B: lts-6.12: ${xfs612.kernel.release}, era ${kernelLine(xfs612.kernel.release)}`);
    expect(text.indexOf('Differences (')).toBeLessThan(text.indexOf('Same on both ('));
  });

  it('the missing wake-up on one side: that expectation first, marked, exit 1', () => {
    const fixed = withWakeUp(xfs61);
    const c = compareRuns(run('default', xfs61), run('fixed', fixed));
    expect(c.exitCode).toBe(1);
    expect(c.expectations[0]).toMatchObject({ id: 'truncate-woken', kind: 'differs', a: { status: 'violated' }, b: { status: 'held' } });
    expect(c.expectations.slice(1).every((e) => e.kind === 'same')).toBe(true);
    // The rest keep the scenario's order.
    expect(c.expectations.slice(1).map((e) => e.id)).toEqual(xfs61.expectations.map((e) => e.id).filter((id) => id !== 'truncate-woken'));
    expect(c.differences).toEqual({ expectations: 1, cells: 0, notComparable: 0 });

    const text = compareText(c);
    checkText(text);
    const lines = text.split('\n');
    expect(lines[0]).toBe(`daxlab compare: dma-vs-truncate - ${xfs61.scenario.title}`.slice(0, lines[0]!.length));
    expect(text).toContain(`A: default: ${xfs61.kernel.release}, era ${kernelLine(xfs61.kernel.release)}, fsdax idle refcount ${xfs61.kernel.fsdaxIdleRefcount}`);
    expect(text).toMatch(/outcome: the kernels differ in 1 expectation\(s\) \(exit 1\)/);
    // Differences come before everything that agrees.
    const differences = lines.indexOf('Differences (1):');
    const same = lines.findIndex((l) => l.startsWith('Same on both'));
    expect(differences).toBeGreaterThan(0);
    expect(same).toBeGreaterThan(differences);
    expect(lines[differences + 1]).toMatch(/^ {2}truncate-woken: /);
    expect(text.slice(0, text.indexOf('Same on both'))).toMatch(/A {3}\[VIOLATED\] truncator's truncate had not\s+returned/);
    expect(text).toMatch(/B {3}\[held\] truncator's truncate returned 12 ms/);
    expect(text).toContain('Findings: A truncate-woken; B none');
  });

  it('not observable on one kernel is "not comparable", not a difference', () => {
    const b = clone(xfs61);
    const probe = b.expectations.find((e) => e.id === 'truncate.4')!;
    probe.status = 'not-applicable';
    probe.detail = 'no kprobe on dax_layout_busy_page_range on this kernel';
    const c = compareRuns(run('default', xfs61), run('no-probe', b));
    expect(c.exitCode).toBe(0);
    expect(c.expectations[0]).toMatchObject({ id: 'truncate.4', kind: 'not-comparable' });
    expect(c.outcome).toContain('1 not comparable');
    expect(compareText(c)).toMatch(/Not comparable .*\(1\):\n {2}truncate\.4: /);
  });

  it('one side could not be tested: exit 125 with the reason, whatever the other did', () => {
    const c = compareRuns(run('default', xfs61), run('lts-6.12', null, { exitCode: 125, error: 'profile lts-6.12 is not valid: no such profile' }));
    expect(c.exitCode).toBe(125);
    expect(c.outcome).toContain('lts-6.12 could not be tested (profile lts-6.12 is not valid: no such profile)');
    expect(c.expectations.every((e) => e.kind === 'not-comparable')).toBe(true);
    const text = compareText(c);
    checkText(text);
    expect(text).toContain('B: lts-6.12: no kernel report');
  });

  it('a bug of daxlab on one side is exit 3, never a kernel difference', () => {
    const c = compareRuns(run('default', xfs61), run('x', null, { exitCode: 3, error: 'internal error' }));
    expect(c.exitCode).toBe(3);
  });

  it('refuses reports of two different scenarios', () => {
    const other = { ...clone(xfs61), scenario: { id: 'map-sync', title: 'MAP_SYNC' } };
    expect(() => compareRuns(run('a', xfs61), run('b', other))).toThrow(CompareError);
  });
});

describe('compareRuns: tables cell by cell', () => {
  const recorded = JSON.parse(fs.readFileSync(path.join(fixtures, 'pin-accounting-xfs.tables.json'), 'utf8')) as Pick<RunReport, 'scenario' | 'kernel' | 'tables'> & { scenario: string };
  const report = (): RunReport => ({
    scenario: { id: recorded.scenario, title: 'every reference kind x every memory kind' },
    kernel: clone(recorded.kernel),
    profile: { name: 'default', fs: 'xfs' },
    verdict: 'held',
    exitCode: 0,
    expectations: [],
    findings: [],
    tables: clone(recorded.tables),
  });

  it('the O_DIRECT cell as a FOLL_PIN kernel fills it: only that cell differs, marked *', () => {
    const a = report();
    const b = report();
    // Block O_DIRECT takes a FOLL_PIN pin on 6.12 (DESIGN.md "Kernel eras"): +1024, one pin,
    // nr_foll_pin_acquired +1, where 6.1 takes a plain reference.
    b.kernel = { ...b.kernel, release: '6.12.95+deb12-amd64' };
    const cell = b.tables!.pins!.cells.odirect!.fsdax!;
    Object.assign(cell.take!, { aboveIdleDelta: 1024, pinsDelta: 1, pinAcquiredDelta: 1 });
    Object.assign(cell.release!, { aboveIdleDelta: -1024, pinsDelta: -1, pinReleasedDelta: 1 });
    const c = compareRuns(run('default', a), run('lts-6.12', b));
    expect(c.exitCode).toBe(1);
    const t = c.tables.find((x) => x.name === 'pins')!;
    const measured = Object.values(recorded.tables!.pins!.cells).reduce((n, row) => n + Object.values(row).filter((x) => x.take).length, 0);
    expect(t.cells.length).toBe(measured);
    expect(t.cells.filter((x) => x.differs).map((x) => `${x.row}/${x.column}`)).toEqual(['odirect/fsdax']);
    expect(t.cells.find((x) => x.differs)!.fields).toEqual(['aboveIdleDelta', 'pinsDelta', 'pinAcquiredDelta']);
    expect(c.outcome).toBe('the kernels differ in 1 table cell(s)');
    const text = compareText(c);
    checkText(text);
    expect(text).toContain('Table pins, cell by cell (1 differ, marked *):');
    expect(text).toMatch(/\n {2}\* odirect x fsdax +A \+1 +B \+1024 p\+1\n/);
    expect(text).toMatch(/\n {4}odirect x anon +A \+1 +B \+1\n/);
    expect(text).toContain('B: lts-6.12: 6.12.95+deb12-amd64, era 6.12');
  });

  it('a cell measured on one side only (no devdax namespace there) is marked ?, not a difference', () => {
    const a = report();
    const b = report();
    for (const row of Object.values(b.tables!.pins!.cells)) delete row.devdax;
    const c = compareRuns(run('default', a), run('ext4', b));
    expect(c.exitCode).toBe(0);
    const t = c.tables[0]!;
    expect(t.differing).toBe(0);
    expect(t.cells.filter((x) => x.oneSided).map((x) => x.column)).toEqual(t.rows.filter((r) => a.tables!.pins!.cells[r]?.devdax?.take).map(() => 'devdax'));
    expect(compareText(c)).toMatch(/\n {2}\? vmsplice x devdax/);
  });
});

describe('kernelLine', () => {
  it('reads the line from Debian release strings of three eras', () => {
    expect(kernelLine('6.1.0-57-amd64')).toBe('6.1');
    expect(kernelLine('6.12.95+deb12-amd64')).toBe('6.12');
    expect(kernelLine('7.2.13+deb14-amd64')).toBe('7.2');
    expect(kernelLine('garbage')).toBeNull();
  });
});

describe('compare: one guest after the other, or both at once', () => {
  it('decides from the host cores and free memory against the profiles', async () => {
    const { concurrency } = await import('../../src/commands/runs.js');
    const two = [{ cpus: 2, memory: '2G' }, { cpus: 2, memory: '2G' }];
    expect(concurrency(two, { cpus: 2, freeMemory: 20 * 2 ** 30 })).toMatchObject({ parallel: false });
    expect(concurrency(two, { cpus: 2, freeMemory: 20 * 2 ** 30 }).why).toContain('the guests want 4 vCPUs, this machine has 2 cores');
    expect(concurrency(two, { cpus: 8, freeMemory: 4 * 2 ** 30 })).toMatchObject({ parallel: false });
    expect(concurrency(two, { cpus: 8, freeMemory: 6 * 2 ** 30 })).toMatchObject({ parallel: true });
  });
});

describe('daxlab compare --run: a side that already ran', () => {
  const transcript = path.join(fixtures, 'vmsplice-vs-punch-xfs.jsonl');
  /** The compare command in-process (the CLI's own dispatch imports it by a name vite cannot follow). */
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const { compareCommand } = await import('../../src/commands/compare.js');
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
    try {
      return { code: await compareCommand(args.slice(1)), out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  it('sides in the order the command line names them, --profile and --run mixed', async () => {
    const { sidesOf } = await import('../../src/commands/compare.js');
    expect(sidesOf(['x', '--run', 'a.jsonl', '-p', 'sid', '--json'])).toEqual([
      { kind: 'run', file: 'a.jsonl' },
      { kind: 'profile', profile: 'sid' },
    ]);
    expect(sidesOf(['--profile=default,sid'])).toEqual([
      { kind: 'profile', profile: 'default' },
      { kind: 'profile', profile: 'sid' },
    ]);
  });

  it('two saved runs: no guest, the table from their reports, the scenario named by them, exit as diff(1)', async () => {
    const r = await cli(['compare', '--run', transcript, '--run', transcript]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('daxlab compare: vmsplice-vs-punch');
    expect(r.out).toContain('outcome: the kernels agree');
    const json = await cli(['compare', '--run', transcript, '--run', transcript, '--json']);
    expect(JSON.parse(json.out).exitCode).toBe(0);
  });

  it('a saved run of another scenario, a missing file, a third side: usage mistakes (exit 2) that say what to fix', async () => {
    const { noStack } = await import('./cliHarness.js');
    const other = await cli(['compare', 'dma-vs-truncate', '--run', transcript, '--profile', 'sid']);
    expect(other.code).toBe(2);
    expect(other.err).toContain('the saved run is of vmsplice-vs-punch, not dma-vs-truncate');
    const missing = await cli(['compare', '--run', '/nonexistent/run.jsonl', '--profile', 'sid']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no such saved run: /nonexistent/run.jsonl');
    const three = await cli(['compare', 'x', '-p', 'a', '-p', 'b', '--run', transcript]);
    expect(three.code).toBe(2);
    expect(three.err).toContain('name exactly two sides');
    for (const e of [other.err, missing.err, three.err]) noStack(e);
  });
});
