// The same scenario on two kernels: what differs between the two runs' verdicts and
// tables. Pure: two reports (as `daxlab run --json` prints them, or as the engine returns
// them) in, one Comparison out; the text form lives in src/screens/compareReport.ts.
//
// What counts as a difference is what the kernels did, not how the lab saw it: an
// expectation held on one and violated on the other, a table cell whose result or deltas
// differ, a run that reached a finding the other did not. Details (times, pids, pfns)
// differ from run to run and are shown, never compared. An expectation the lab could not
// observe on one kernel ("not applicable") is listed apart: not comparable is not a
// difference, and calling it one would be a false finding about a patch.
import { kernelLine } from './era.js';
import type { Status } from './expect.js';

/** The parts of a ScenarioReport a comparison reads (extra fields of `run --json` are fine). */
export type RunReport = {
  scenario: { id: string; title: string };
  kernel: { release: string; version: string; fsdaxIdleRefcount: number | null };
  profile: { name: string; fs: string };
  seed?: number;
  verdict: 'held' | 'finding' | 'cannot-test';
  exitCode: number;
  cannotTest?: string | null;
  expectations: Array<{ id: string; description: string; status: Status; detail: string; check?: string }>;
  findings: Array<{ expectation: string; summary: string }>;
  tables?: Record<string, { rows: string[]; columns: string[]; cells: Record<string, Record<string, { take?: Record<string, unknown>; release?: Record<string, unknown> }>> }>;
  transcript?: string | null;
  runDir?: string;
};

/** One side of a comparison: the report, or why there is none (the guest did not boot, ...). */
export type ComparedRun = {
  /** What the user named: a profile name or path. */
  label: string;
  report: RunReport | null;
  /** The run's exit code: 0 held, 1 finding, 125 could not test, 3 a bug of daxlab. */
  exitCode: number;
  /** Why the run has no report, or could not test. */
  error?: string;
};

export type SideFacts = {
  label: string;
  profile: string | null;
  fs: string | null;
  release: string | null;
  version: string | null;
  /** The kernel line ("6.1", "6.12"), from the release string: for people, never for layouts. */
  era: string | null;
  /** Measured by the run, not assumed from the era. */
  fsdaxIdleRefcount: number | null;
  verdict: RunReport['verdict'] | 'no-report';
  exitCode: number;
  cannotTest: string | null;
};

export type ExpectationSide = { status: Status; detail: string } | null;

export type ExpectationDiff = {
  id: string;
  description: string;
  a: ExpectationSide;
  b: ExpectationSide;
  /**
   * differs: held on one, violated on the other, or decided on one and absent from the
   * other; not-comparable: not applicable (unobservable) on at least one side, or one run
   * has no report; same: the same status on both.
   */
  kind: 'differs' | 'not-comparable' | 'same';
};

/** What a table cell says about the kernel, independent of the era's idle baseline. */
export type CellFacts = {
  result: string;
  aboveIdleDelta: number | null;
  pinsDelta: number | null;
  pinAcquiredDelta: number | null;
  pinReleasedDelta: number | null;
  large: boolean | null;
  /** Whether the release put the page back where the take found it (null: no release). */
  releasedBack: boolean | null;
};

export type CellDiff = {
  row: string;
  column: string;
  a: CellFacts | null;
  b: CellFacts | null;
  /** The raw cells, for the text form (src/screens/report.ts renders them). */
  rawA: { take?: Record<string, unknown>; release?: Record<string, unknown> } | undefined;
  rawB: { take?: Record<string, unknown>; release?: Record<string, unknown> } | undefined;
  differs: boolean;
  /** Measured on one side only (that profile has no such memory, the step did not run). */
  oneSided: boolean;
  /** Which facts differ ("aboveIdleDelta", "result", ...). */
  fields: string[];
};

export type TableDiff = { name: string; rows: string[]; columns: string[]; cells: CellDiff[]; differing: number };

export type Comparison = {
  scenario: { id: string; title: string };
  a: SideFacts;
  b: SideFacts;
  /** Differences first, then the not comparable, then the same; each group in scenario order. */
  expectations: ExpectationDiff[];
  tables: TableDiff[];
  /** Findings by expectation id, per side. */
  findings: { a: string[]; b: string[] };
  differences: { expectations: number; cells: number; notComparable: number };
  /** diff(1): 0 the kernels agree, 1 they differ, 125 one could not be tested, 3 a bug of daxlab. */
  exitCode: 0 | 1 | 3 | 125;
  outcome: string;
};

export class CompareError extends Error {}

export { kernelLine };

function sideFacts(run: ComparedRun): SideFacts {
  const r = run.report;
  return {
    label: run.label,
    profile: r?.profile.name ?? null,
    fs: r?.profile.fs ?? null,
    release: r?.kernel.release ?? null,
    version: r?.kernel.version ?? null,
    era: kernelLine(r?.kernel.release),
    fsdaxIdleRefcount: r?.kernel.fsdaxIdleRefcount ?? null,
    verdict: r?.verdict ?? 'no-report',
    exitCode: run.exitCode,
    cannotTest: run.error ?? r?.cannotTest ?? null,
  };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function cellFacts(cell: { take?: Record<string, unknown>; release?: Record<string, unknown> } | undefined): CellFacts | null {
  const take = cell?.take;
  if (!take) return null;
  const above = num(take.aboveIdleDelta);
  const released = cell?.release ? num(cell.release.aboveIdleDelta) : null;
  return {
    result: String(take.result ?? 'unknown'),
    aboveIdleDelta: above,
    pinsDelta: num(take.pinsDelta),
    pinAcquiredDelta: num(take.pinAcquiredDelta),
    pinReleasedDelta: num(take.pinReleasedDelta),
    large: typeof take.large === 'boolean' ? take.large : null,
    releasedBack: cell?.release ? released !== null && above !== null && released === -above : null,
  };
}

/** The facts that differ; a cell measured on one side only is not comparable, not different. */
function differingFields(a: CellFacts | null, b: CellFacts | null): string[] {
  if (!a || !b) return [];
  return (Object.keys(a) as Array<keyof CellFacts>).filter((k) => a[k] !== b[k]);
}

function union(first: readonly string[], second: readonly string[]): string[] {
  return [...first, ...second.filter((x) => !first.includes(x))];
}

function expectationKind(a: ExpectationSide, b: ExpectationSide, bothReported: boolean): ExpectationDiff['kind'] {
  if (!bothReported) return 'not-comparable';
  if (a?.status === 'not-applicable' || b?.status === 'not-applicable') return a?.status === b?.status ? 'same' : 'not-comparable';
  if (!a || !b) return 'differs';
  return a.status === b.status ? 'same' : 'differs';
}

const KIND_ORDER: Record<ExpectationDiff['kind'], number> = { differs: 0, 'not-comparable': 1, same: 2 };

/** Compare two runs of one scenario. Throws CompareError when they are not the same scenario. */
export function compareRuns(runA: ComparedRun, runB: ComparedRun): Comparison {
  const ra = runA.report;
  const rb = runB.report;
  if (ra && rb && ra.scenario.id !== rb.scenario.id) {
    throw new CompareError(`the two reports are of different scenarios ("${ra.scenario.id}" and "${rb.scenario.id}"): compare runs of one scenario`);
  }
  const both = !!ra && !!rb;
  const byId = (r: RunReport | null) => new Map((r?.expectations ?? []).map((e) => [e.id, e]));
  const ea = byId(ra);
  const eb = byId(rb);
  const ids = union([...ea.keys()], [...eb.keys()]);
  const side = (e: RunReport['expectations'][number] | undefined): ExpectationSide => (e ? { status: e.status, detail: e.detail } : null);
  const expectations = ids
    .map((id, order) => {
      const a = side(ea.get(id));
      const b = side(eb.get(id));
      const description = (ea.get(id) ?? eb.get(id))!.description;
      return { order, diff: { id, description, a, b, kind: expectationKind(a, b, both) } satisfies ExpectationDiff };
    })
    .sort((x, y) => KIND_ORDER[x.diff.kind] - KIND_ORDER[y.diff.kind] || x.order - y.order)
    .map((x) => x.diff);

  const tables: TableDiff[] = [];
  for (const name of union(Object.keys(ra?.tables ?? {}), Object.keys(rb?.tables ?? {}))) {
    const ta = ra?.tables?.[name];
    const tb = rb?.tables?.[name];
    const rows = union(ta?.rows ?? [], tb?.rows ?? []);
    const columns = union(ta?.columns ?? [], tb?.columns ?? []);
    const cells: CellDiff[] = [];
    for (const row of rows)
      for (const column of columns) {
        const rawA = ta?.cells[row]?.[column];
        const rawB = tb?.cells[row]?.[column];
        const a = cellFacts(rawA);
        const b = cellFacts(rawB);
        if (!a && !b) continue;
        const fields = both ? differingFields(a, b) : [];
        cells.push({ row, column, a, b, rawA, rawB, differs: fields.length > 0, oneSided: !a || !b, fields });
      }
    tables.push({ name, rows, columns, cells, differing: cells.filter((c) => c.differs).length });
  }

  const count = (k: ExpectationDiff['kind']) => expectations.filter((e) => e.kind === k).length;
  const differences = { expectations: count('differs'), cells: tables.reduce((n, t) => n + t.differing, 0), notComparable: count('not-comparable') };
  const findings = { a: (ra?.findings ?? []).map((f) => f.expectation), b: (rb?.findings ?? []).map((f) => f.expectation) };
  // A finding on one side only is a difference even when its expectation is not listed
  // (a run-level check such as the hang detector).
  const findingOnOneSide = both && (findings.a.some((f) => !findings.b.includes(f)) || findings.b.some((f) => !findings.a.includes(f)));

  const a = sideFacts(runA);
  const b = sideFacts(runB);
  const untested = [a, b].filter((s) => s.exitCode === 125 || s.verdict === 'no-report' || s.verdict === 'cannot-test');
  const buggy = [a, b].filter((s) => s.exitCode === 3);
  const differ = differences.expectations > 0 || differences.cells > 0 || findingOnOneSide;
  let exitCode: Comparison['exitCode'];
  let outcome: string;
  const what = () =>
    [
      differences.expectations ? `${differences.expectations} expectation(s)` : '',
      differences.cells ? `${differences.cells} table cell(s)` : '',
      findingOnOneSide && !differences.expectations ? 'their findings' : '',
    ]
      .filter(Boolean)
      .join(' and ');
  if (buggy.length) {
    exitCode = 3;
    outcome = `daxlab failed on ${buggy.map((s) => s.label).join(' and ')} (a bug of daxlab, not a kernel difference)`;
  } else if (untested.length) {
    exitCode = 125;
    outcome = `could not compare: ${untested.map((s) => `${s.label} could not be tested (${s.cannotTest ?? 'no report'})`).join('; ')}`;
  } else if (differ) {
    exitCode = 1;
    outcome = `the kernels differ in ${what()}`;
  } else {
    exitCode = 0;
    outcome = `the kernels agree on all ${expectations.length - differences.notComparable} comparable expectation(s)${tables.length ? ' and every table cell' : ''}`;
    if (findings.a.length) outcome += `, the finding(s) included (${[...new Set(findings.a)].join(', ')} on both)`;
  }
  if (differences.notComparable && exitCode !== 125) outcome += `; ${differences.notComparable} not comparable (not observable on one kernel)`;
  const scenario = ra?.scenario ?? rb?.scenario ?? { id: 'unknown', title: '' };
  return { scenario: { id: scenario.id, title: scenario.title }, a, b, expectations, tables, findings, differences, exitCode, outcome };
}
