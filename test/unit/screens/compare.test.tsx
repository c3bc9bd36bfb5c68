// The compare in the TUI: its model (two runs kept in step by scenario step, the rows that
// differ) and its screens (side by side, the aligned timelines, the compare table and its
// export), from runs recorded with the lab (test/fixtures, test/fixtures/compare).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScenarioReport } from '../../../src/lab/engine.js';
import { reduceAll } from '../../../src/lab/state.js';
import { replayTranscript } from '../../../src/wire/transcript.js';
import { CompareController, loadSavedRun, type LiveSide } from '../../../src/screens/compare.js';
import { alignedGrid, foldSteps, reportSteps, sideTimeline, stepBoundaries, stepMarks, stepRows, type CompareSide } from '../../../src/screens/compareModel.js';
import { compareMarkdown, compareText } from '../../../src/screens/compareReport.js';
import { compareRuns } from '../../../src/lab/compare.js';
import { FakeController, delay, fixture, renderApp, KEY } from './harness.js';
import { tempDirs } from '../tempDirs.js';

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

const A = fixture('vmsplice-vs-punch-xfs.jsonl');
/** The same scenario recorded on sid (7.2) with `daxlab run --json --record`: the report saved next to the transcript. */
const B = fixture('compare/vmsplice-vs-punch-sid.jsonl');
const haveB = fs.existsSync(B);

/** Copies of the fixtures in a temp dir: the export writes next to the first transcript. */
const tmp = tempDirs('daxlab-compare-');
function copies(...files: string[]): string[] {
  const dir = tmp();
  return files.map((f) => {
    const stem = f.replace(/\.jsonl$/, '');
    for (const x of [f, `${stem}.lab-run.json`, `${stem}.json`, `${stem}.report.json`]) if (fs.existsSync(x)) fs.copyFileSync(x, path.join(dir, path.basename(x)));
    return path.join(dir, path.basename(f));
  });
}

const sides = (c: CompareController) => c.getView().sides;

describe('compare model', () => {
  it('a step is over when the next step that ran begins (a skipped one is passed), the last at its end, never before the step before it', () => {
    expect(stepBoundaries([{ start: 1, end: 2 }, { start: null, end: null, skipped: true }, { start: 5, end: 6 }, { start: 7, end: null }])).toEqual([5, 5, 7, Infinity]);
    expect(stepBoundaries([{ start: 3, end: 4 }, { start: 2, end: 1 }])[0]).toBe(2);
    expect(stepBoundaries([{ start: 3, end: 4 }, { start: 2, end: 1 }])[1]).toBeCloseTo(2, 6);
    expect(stepBoundaries([{ start: 1, end: 2 }])[0]).toBeCloseTo(2, 6);
  });

  it("folds a transcript once: each step's state is the fold of the messages up to that step's end", () => {
    const report = loadSavedRun(A).report;
    const steps = reportSteps(report, 14);
    const messages = replayTranscript(A).messages;
    const { stepStates, final } = foldSteps(messages, steps);
    expect(stepStates.length).toBe(14);
    const bounds = stepBoundaries(steps);
    // Independent of the fold: the reducer over the messages up to each boundary.
    for (const n of [0, 5, 12]) {
      const first = messages.findIndex((m) => m.t > bounds[n]!);
      const expected = reduceAll(first < 0 ? messages : messages.slice(0, first));
      expect(stepStates[n]!.messageCount, `step ${n + 1}`).toBe(expected.messageCount);
      expect(stepStates[n]!.lastT!).toBeLessThanOrEqual(bounds[n]!);
    }
    expect(final.messageCount).toBe(messages.length);
  });

  it('a saved run against itself: every step the same, the compare table as daxlab compare prints it, exit 0', () => {
    const c = new CompareController({ sides: [{ kind: 'run', file: A }, { kind: 'run', file: A }] });
    const v = c.getView();
    expect(v.error).toBeUndefined();
    expect(v.scenario?.id).toBe('vmsplice-vs-punch');
    const [a, b] = v.sides;
    expect(a.status).toBe('finished');
    expect(stepMarks(a, b, 14, v.comparison)).toBe('='.repeat(14));
    // Step 6 (the punch): the pipe's reference on page 0, the puncher asleep in break-layouts, i_rwsem held by it.
    const rows = stepRows(a, b, 5, 14, v.comparison);
    expect(rows.every((r) => r.kind === 'same')).toBe(true);
    const row = (id: string) => rows.find((r) => r.id === id)!;
    expect(row('victim#0').a).toMatch(/^ref 2 \(\+1 above idle 1\)/);
    expect(row('puncher').a).toMatch(/^S xfs_break_dax_layouts/);
    expect(row('punch.1').a).toMatch(/^held · puncher was asleep \(S\) in xfs_break_dax_layouts/);
    expect(rows.some((r) => r.id === 'punch-waits-unmapped')).toBe(false); // step 13's: not yet at step 6
    // The table is compare.ts's: the same text as `daxlab compare` prints.
    const report = loadSavedRun(A).report;
    const cli = compareRuns({ label: A, report, exitCode: report.exitCode }, { label: A, report, exitCode: report.exitCode });
    expect(compareText(v.comparison!)).toBe(compareText(cli));
    expect(v.comparison!.exitCode).toBe(0);
  });

  it('reads a saved run from its transcript, its lab-run.json, or a report naming its transcript', () => {
    const [t, dma] = copies(A, fixture('dma-vs-truncate-xfs.jsonl'));
    expect(loadSavedRun(t!).report.scenario.id).toBe('vmsplice-vs-punch');
    expect(loadSavedRun(t!.replace(/\.jsonl$/, '.lab-run.json')).transcript).toBe(t);
    // `daxlab run --json` saved as <stem>.report.json beside the transcript.
    expect(loadSavedRun(dma!).report.scenario.id).toBe('dma-vs-truncate');
    expect(() => loadSavedRun('/nonexistent.jsonl')).toThrow(/no such saved run/);
    // Two scenarios: nothing runs, the screen says why.
    const c = new CompareController({ sides: [{ kind: 'run', file: t! }, { kind: 'run', file: dma! }] });
    expect(c.getView().error).toMatch(/different scenarios \(vmsplice-vs-punch and dma-vs-truncate\)/);
    expect(c.getView().comparison).toBeNull();
  });

  it('a profile side without a way to boot a guest could not be tested (125), never a difference', async () => {
    const c = new CompareController({ scenario: 'vmsplice-vs-punch', sides: [{ kind: 'run', file: A }, { kind: 'profile', profile: 'sid' }] });
    c.start();
    await c.done;
    expect(sides(c)[1].status).toBe('failed');
    expect(c.getView().comparison?.exitCode).toBe(125);
    expect(stepMarks(sides(c)[0], sides(c)[1], 14)).toBe('.'.repeat(14));
  });

  it('a live side: its steps kept as they finish, the cursor on the running step, rebuilt from its transcript at the end', async () => {
    // A "live" side that replays a recorded run through the same view a LiveController gives.
    const [file] = copies(A);
    const saved = loadSavedRun(file!);
    const fake = new FakeLive(file!, saved.report);
    const c = new CompareController({ scenario: 'vmsplice-vs-punch', sides: [{ kind: 'run', file: A }, { kind: 'profile', profile: 'default' }] }, { live: () => fake });
    c.start();
    await delay(5);
    expect(sides(c)[1].status).toBe('booting');
    fake.ready();
    await delay(5);
    fake.stepTo(5);
    let b = sides(c)[1];
    expect(b.status).toBe('running');
    expect(b.current).toBe(5);
    expect(b.stepStates.length).toBe(5);
    // Step 6 of the live side beside step 6 of the saved one: live state, not reached after it.
    expect(stepRows(sides(c)[0], b, 5, 14).some((r) => r.section === 'pages')).toBe(true);
    expect(stepMarks(sides(c)[0], b, 14).slice(6)).toBe('.'.repeat(8));
    fake.finish();
    await c.done;
    b = sides(c)[1];
    expect(b.status).toBe('finished');
    expect(fake.shutdowns).toBe(1);
    expect(stepMarks(sides(c)[0], b, 14, c.getView().comparison)).toBe('='.repeat(14));
    expect(c.getView().comparison?.exitCode).toBe(0);
  });
});

/** A LiveSide fed from a recording: boot, steps and the end come when the test says. */
class FakeLive extends FakeController implements LiveSide {
  shutdowns = 0;
  private messages;
  constructor(
    private readonly file: string,
    private readonly report: ScenarioReport,
  ) {
    super({ boot: { profile: 'default', status: 'idle', stages: [], console: [] } });
    this.messages = replayTranscript(file).messages;
  }
  override boot(): void {
    this.set({ boot: { ...this.getView().boot, status: 'booting', stages: [{ id: 'qemu', detail: 'starting', state: 'running' }] } });
  }
  ready(): void {
    this.set({ boot: { ...this.getView().boot, status: 'ready', kernel: this.report.kernel.release }, transcript: this.file });
  }
  override run(id: string): void {
    const info = new CompareController({ scenario: id, sides: [{ kind: 'run', file: this.file }, { kind: 'run', file: this.file }] }).getView().scenario!;
    this.set({ run: { scenario: info, guided: false, steps: [], current: 0, status: 'running', expectations: [], findings: [], record: { run: { expectations: [] }, steps: [] } } });
  }
  stepTo(n: number): void {
    const starts = this.report.steps.map((s) => s.start ?? 0);
    for (let k = 0; k <= n; k++) {
      for (const m of this.messages.filter((x) => x.t < starts[k]! && x.t >= (starts[k - 1] ?? -Infinity))) this.store.dispatch(m);
      const run = this.getView().run!;
      this.set({ run: { ...run, current: k, steps: [...run.steps, { index: k, changes: [] }] } });
    }
  }
  finish(): void {
    const run = this.getView().run!;
    this.set({ run: { ...run, status: 'finished', record: { run: this.report, steps: [] } } });
  }
  override async shutdown(): Promise<void> {
    this.shutdowns++;
  }
}

describe('compare screens', () => {
  it('side by side: the step strip, step N of A beside step N of B, h/l steps, t the aligned timelines, r the table, x exports it', async () => {
    const [a, b] = copies(A, A);
    const c = new CompareController({ sides: [{ kind: 'run', file: a! }, { kind: 'run', file: b! }] });
    const app = renderApp(new FakeController(), 'compare', undefined, { compare: c });
    cleanup = app.unmount;
    /** The screen once it shows `want` (a loaded machine renders late). */
    const when = async (want: string | RegExp) => {
      const ok = (x: string) => (typeof want === 'string' ? x.includes(want) : want.test(x));
      for (let i = 0; i < 60 && !ok(app.screen()); i++) await delay(50);
      return app.screen();
    };
    let s = await when('step 1/14');
    expect(s).toContain('daxlab · compare · vmsplice-vs-punch');
    expect(s).toMatch(/steps\s+1=\s+2=/);
    expect(s).toContain('step 1/14 holder: open victim (create)');
    await app.press('l', 'l', 'l', 'l', 'l');
    s = await when('step 6/14');
    expect(s).toContain('step 6/14 puncher: fallocate punch 0+4K');
    expect(s).toMatch(/Pages at the end of the step/);
    expect(s).toMatch(/victim#0\s+ref 2 \(\+1 above idle 1\)\s+ref 2 \(\+1 above idle 1\)/);
    expect(s).toMatch(/puncher\s+S xfs_break_dax_layouts/);
    await app.press('h');
    expect(await when('step 5/14')).toContain('step 5/14 holder: vmsplice pages 0');
    await app.press('t');
    s = await when('compare timelines');
    expect(s).toContain('compare timelines');
    expect(s).toMatch(/puncher\s+A [-.=#x ]*#xfs_break_dax_layouts/);
    // The same lane on B right below A's.
    const lines = s.split('\n');
    const i = lines.findIndex((l) => /^puncher\s+A /.test(l));
    expect(lines[i + 1]!.replace(/^\s+B /, '')).toBe(lines[i]!.replace(/^puncher\s+A /, ''));
    await app.press('n', 'n');
    expect(await when(/cursor in step 3 /)).toMatch(/cursor in step 3 /);
    await app.press(KEY.esc);
    expect(await when('step 5/14')).toContain('step 5/14');
    await app.press('r');
    s = await when('daxlab compare: vmsplice-vs-punch');
    expect(s).toContain('compare table');
    expect(s).toContain('daxlab compare: vmsplice-vs-punch');
    await app.press('x');
    const txt = path.join(path.dirname(a!), 'compare-vmsplice-vs-punch.txt');
    expect(await when('exported:')).toContain(`exported: ${txt}`);
    const text = fs.readFileSync(txt, 'utf8');
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(72);
    expect(text).toBe(compareText(c.getView().comparison!));
    expect(fs.readFileSync(txt.replace(/\.txt$/, '.md'), 'utf8')).toBe(compareMarkdown(c.getView().comparison!));
  });

  it('picks A and B on the profiles screen (C, then a saved run with o), and starts the compare', async () => {
    const started: string[] = [];
    const app = renderApp(new FakeController(), 'profiles', undefined, {
      makeCompare: (spec) => {
        started.push(JSON.stringify(spec.sides));
        return new CompareController(spec);
      },
    });
    cleanup = app.unmount;
    await delay();
    await app.press('C');
    for (let i = 0; i < 60 && !app.screen().includes('pick B'); i++) await delay(50);
    expect(app.screen()).toContain('compare: A is default; pick B');
    await app.press('o');
    await app.press(`${A}\r`);
    for (let i = 0; i < 60 && !/could not compare/.test(app.screen()); i++) await delay(50);
    expect(started).toEqual([JSON.stringify([{ kind: 'profile', profile: 'default' }, { kind: 'run', file: A }])]);
    // The saved run names the scenario; the profile side cannot boot here: could not be tested.
    expect(app.screen()).toContain('daxlab · compare · vmsplice-vs-punch');
    expect(app.screen()).toMatch(/could not compare/);
  });

  it('two profiles: B on the profiles screen, then the scenario from the list', async () => {
    const started: string[] = [];
    const app = renderApp(new FakeController(), 'profiles', undefined, {
      makeCompare: (spec) => {
        started.push(`${spec.scenario} ${JSON.stringify(spec.sides)}`);
        return new CompareController(spec);
      },
    });
    cleanup = app.unmount;
    await delay();
    const lines = app.screen().split('\n');
    const others = lines.filter((l) => /^\s+(lts-6\.12|sid)\s/.test(l));
    expect(others.length).toBeGreaterThan(0);
    await app.press('C', 'j');
    await app.press(KEY.enter);
    for (let i = 0; i < 60 && !/pick the scenario/.test(app.screen()); i++) await delay(50);
    expect(app.screen()).toMatch(/compare A default with B \S+: pick the scenario/);
    await app.press('/', 'vmsplice', KEY.enter, KEY.enter);
    for (let i = 0; i < 60 && !started.length; i++) await delay(50);
    expect(started.length).toBe(1);
    expect(started[0]).toMatch(/^vmsplice-vs-punch \[\{"kind":"profile","profile":"default"\},\{"kind":"profile","profile":"[^"]+"\}\]$/);
  });
});

describe('6.1 against 7.2 (recorded)', () => {
  it("the rows that differ are the kernels' differences: the unmapped punch; the idle baseline and the host's timing are not", () => {
    expect(haveB).toBe(true);
    const c = new CompareController({ sides: [{ kind: 'run', file: A }, { kind: 'run', file: B }] });
    const v = c.getView();
    const [a, b]: CompareSide[] = v.sides;
    expect(v.error).toBeUndefined();
    expect(a.release).toMatch(/^6\.1\./);
    expect(b.release).toMatch(/^7\./);
    const status = (s: CompareSide, id: string) => s.report!.expectations.find((e) => e.id === id)?.status;
    const marks = stepMarks(a, b, 14, v.comparison);
    for (let n = 0; n < 14; n++) {
      const rows = stepRows(a, b, n, 14, v.comparison);
      // An expectation row differs exactly when the two reports' statuses do.
      for (const r of rows.filter((x) => x.section === 'expectations')) expect(r.kind, `step ${n + 1} ${r.id}`).toBe(status(a, r.id) === status(b, r.id) ? 'same' : 'differs');
      // A page differs only by its references above idle or its pins, never by the raw refcount.
      for (const r of rows.filter((x) => x.section === 'pages')) {
        const facts = (t: string) => [/\(([+-]?\d+) above/.exec(t)?.[1], /(\d+) pins/.exec(t)?.[1] ?? '0'].join('/');
        expect(r.kind, `step ${n + 1} ${r.id}: ${r.a} | ${r.b}`).toBe(facts(r.a) === facts(r.b) ? 'same' : 'differs');
      }
      expect(marks[n]).toBe(rows.some((r) => r.kind === 'differs') ? '*' : '=');
    }
    // The idle refcounts differ (1 on 6.1, 0 on 7.2, as each run measured): with the pipe's
    // reference and no mapping left (step 7, munmap) the raw refcounts differ and the row is the same.
    expect(a.report!.kernel.fsdaxIdleRefcount).not.toBe(b.report!.kernel.fsdaxIdleRefcount);
    const splice = stepRows(a, b, 6, 14).find((r) => r.id === 'victim#0')!;
    expect(/ref (\d+)/.exec(splice.a)?.[1]).not.toBe(/ref (\d+)/.exec(splice.b)?.[1]);
    expect(splice.kind).toBe('same');
    // Step 13 (the punch after munmap): the puncher row differs exactly when the verdict does,
    // as each run's own record of the punch shows (still running at the step's end or not).
    const rows13 = stepRows(a, b, 12, 14, v.comparison);
    const verdictDiffers = status(a, 'punch-waits-unmapped') !== status(b, 'punch-waits-unmapped');
    expect(rows13.find((r) => r.id === 'puncher.action')!.kind).toBe(verdictDiffers ? 'differs' : 'same');
    // The compare table is compare.ts's, the same `daxlab compare` prints.
    expect(v.comparison!.exitCode).toBe(verdictDiffers ? 1 : 0);
    // The timelines: every step starts in the same column on both sides, at that side's own start.
    const g = alignedGrid(sideTimeline(a, v.shapes), sideTimeline(b, v.shapes), 14, 100);
    for (const seg of g.segments.slice(1)) {
      for (const [name, side] of [['A', a], ['B', b]] as const) {
        const start = side.steps[seg.step]!.start!;
        const t = g.timeAt(name, seg.col);
        const next = side.steps[seg.step + 1]?.start ?? Infinity;
        expect(t, `${name} step ${seg.step + 1}`).toBeGreaterThanOrEqual(start);
        expect(t).toBeLessThan(next);
      }
    }
  });
});
