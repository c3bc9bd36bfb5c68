// The report of a recorded run: verdicts with evidence, the timeline, the transcript;
// exported as ASCII text wrapped at 72 columns and as Markdown.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplayController } from '../../../src/screens/replay.js';
import { buildReport, reportMarkdown, reportText, wrap } from '../../../src/screens/report.js';
import { reduceAll } from '../../../src/lab/state.js';
import { droppedSnapshotsText, lossSummary } from '../../../src/screens/view.js';
import { delay, fixture, renderApp } from './harness.js';
import { tempDirs } from '../tempDirs.js';

let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());

/** The fixture and its run record copied to a temp dir: the export writes next to the transcript. */
const tmp = tempDirs('daxlab-report-');
function copyFixture(name: string): string {
  const dir = tmp();
  fs.copyFileSync(fixture(`${name}.jsonl`), path.join(dir, `${name}.jsonl`));
  fs.copyFileSync(fixture(`${name}.lab-run.json`), path.join(dir, `${name}.lab-run.json`));
  return path.join(dir, `${name}.jsonl`);
}

describe('Report', () => {
  it('plain text: every line at most 72 columns, ASCII only, verdicts, refcount history, timeline, transcript', () => {
    const c = new ReplayController(fixture('vmsplice-vs-punch-xfs.jsonl'), { paused: true });
    c.runToEnd();
    const text = reportText(buildReport(c.store.state, c.getView().run, fixture('vmsplice-vs-punch-xfs.jsonl'), lossSummary(c.store.state)));
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(72);
    expect(text).toMatch(/^[\x00-\x7f]*$/);
    expect(text).toContain('outcome: 1 finding(s): the kernel did not do what the scenario expects');
    expect(text).toMatch(/\[held\] puncher sleeps in \/break_\(dax_\)\?layouts\/ within 2s --\s+puncher\s+was asleep \(S\) in xfs_break_dax_layouts/);
    expect(text).toMatch(/\[VIOLATED\] the punch waits while the pipe still holds page 1 \(1 s\)/);
    // The finding, with its evidence in words: the actors, the refcount histories.
    expect(text).toContain('Finding: the punch waits while the pipe still holds page 1 (1 s)');
    expect(text).toMatch(/- action: puncher fallocate 21\.203s -> 21\.213s: ret 0/);
    expect(text).toMatch(/again#1 refcount 1@[\d.]+s 2@[\d.]+s/);
    expect(text).toMatch(/victim#0: idle 1, peak \+1 above idle, 0 pins at most; refcount\s+1@[\d.]+s 2@[\d.]+s 1@/);
    expect(text).toMatch(/puncher: sleeping in xfs_break_dax_layouts <-\s+xfs_break_layouts\+0x4a \[xfs\]/);
    expect(text).toContain('Transcript:');
  });

  it('Markdown: a verdict table and a timeline table', () => {
    const c = new ReplayController(fixture('vmsplice-vs-punch-xfs.jsonl'), { paused: true });
    c.runToEnd();
    const md = reportMarkdown(buildReport(c.store.state, c.getView().run, 'x.jsonl', []));
    expect(md).toContain('# daxlab: vmsplice-vs-punch');
    expect(md).toMatch(/\| held \| the puncher returns within 1 s after page 0 is back at its idle refcount \| puncher's fallocate returned/);
    expect(md).toContain('## Finding: the punch waits while the pipe still holds page 1 (1 s)');
    expect(md).toMatch(/\| [\d.]+s \| puncher: fallocate → 0 in [\d.]+ ms \|/);
  });

  it('a violated expectation becomes a finding with its evidence', () => {
    const c = new ReplayController(fixture('vmsplice-vs-punch-xfs.jsonl'), { paused: true });
    c.runUntil(20.5); // the puncher is blocked; pretend the lab waited 3 s more for the wake-up
    const run = c.getView().run!;
    const r = buildReport(c.store.state, {
      ...run,
      expectations: [{ id: 'w', description: 'truncator finishes within 1 s after victim#0 returns to idle', status: 'violated', detail: 'still waiting 3 s later', evidence: ['victim#0 refcount history: 1@14.1 2@14.4 1@16.5'] }],
      findings: [{ id: 'w', title: 'missing wake-up', detail: 'the truncator never woke', evidence: ['victim#0 refcount history: 1@14.1 2@14.4 1@16.5', 'truncator state S in xfs_break_dax_layouts'] }],
    }, null, []);
    const text = reportText(r);
    expect(text).toContain('outcome: 1 finding(s)');
    expect(text).toContain('[VIOLATED] truncator finishes within 1 s after victim#0 returns to');
    expect(text).toContain('Finding: missing wake-up');
    expect(text).toContain('    - truncator state S in xfs_break_dax_layouts');
  });

  it('x on the Report screen writes report-<scenario>.txt and .md next to the transcript', async () => {
    const file = copyFixture('vmsplice-vs-punch-xfs');
    const c = new ReplayController(file, { paused: true });
    c.runToEnd();
    const app = renderApp(c, 'report');
    cleanup = app.unmount;
    await delay();
    expect(app.screen()).toContain('1 finding(s)');
    await app.press('x');
    const txt = path.join(path.dirname(file), 'report-vmsplice-vs-punch.txt');
    expect(app.screen()).toContain(`exported: ${txt}`);
    expect(fs.readFileSync(txt, 'utf8')).toContain('Finding: the punch waits while the pipe still holds page 1 (1 s)');
    expect(fs.existsSync(txt.replace(/\.txt$/, '.md'))).toBe(true);
  });

  it('wrap breaks words only when one is longer than the line', () => {
    expect(wrap('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(wrap('one two', 20, '  ')).toEqual(['  one two']);
  });
});

describe('Replay with a headless run\'s report (daxlab run --json)', () => {
  it('dma-vs-truncate on 6.1: the missing wake-up is a finding, with the truncator asleep in break-layouts as evidence', async () => {
    const c = new ReplayController(fixture('dma-vs-truncate-xfs.jsonl'), { paused: true, report: fixture('dma-vs-truncate-xfs.report.json') });
    c.runToEnd();
    const app = renderApp(c, 'live');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toContain('dma-vs-truncate');
    expect(s).toMatch(/✗ violated the truncator returns within 2 s after page 0 is back at its idle refcount/);
    // Wrapped at 72 columns: read it as running text.
    const text = reportText(buildReport(c.store.state, c.getView().run, null, [])).replace(/\s+/g, ' ');
    expect(text).toContain('Finding: the truncator returns within 2 s after page 0 is back at its idle refcount');
    expect(text).toContain('- task: truncator (pid 129) S in xfs_break_dax_layouts, blocked 3981 ms; stack: xfs_break_dax_layouts+0x8d [xfs]');
    expect(text).toContain('- page: victim#0 refcount 1@16.650s 2@16.727s 1@18.679s (idle 1, peak +1)');
  });
});

describe('Report tables', () => {
  it('pin-accounting (recorded on 6.1): every way of taking a reference on each memory kind, at 72 columns', async () => {
    const { tables, kernel } = JSON.parse(fs.readFileSync(fixture('pin-accounting-xfs.tables.json'), 'utf8')) as { tables: Record<string, never>; kernel: { release: string } };
    expect(kernel.release).toBe('6.1.0-56-amd64');
    const { engineScenarioInfo } = await import('../../../src/screens/engineRun.js');
    const { builtinScenarios } = await import('../../../src/lab/scenarios/index.js');
    const info = engineScenarioInfo(builtinScenarios.find((s) => s.id === 'pin-accounting')!);
    const r = buildReport(reduceAll([]), { scenario: info, guided: false, steps: [], current: 0, status: 'finished', expectations: [], findings: [], tables }, null, []);
    const text = reportText(r);
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(72);
    const row = (name: string) => text.split('\n').find((l) => l.trimStart().startsWith(`${name} `))!.trim().split(/\s{2,}/);
    expect(text).toMatch(/Table pins:\n\s+fsdax\s+anon\s+pagecache\s+devdax/);
    // 6.1: vmsplice and block O_DIRECT take plain references; io_uring and RDMA pin with the
    // bias on small folios and refuse fsdax; a large devdax folio counts its pin in _pincount.
    expect(row('vmsplice')).toEqual(['vmsplice', '+1', '+1', '+1', '+1']);
    expect(row('io_uring')[2]).toBe('+1024 p+1');
    expect(row('rdma')[1]).toBe('EOPNOTSUPP');
    expect(reportMarkdown(r)).toContain('| vmsplice | +1 | +1 | +1 | +1 |');
  });
});

describe('lost snapshots', () => {
  it('says how many of the dropped snapshots fell inside the agent\'s own commands, and which', () => {
    expect(droppedSnapshotsText({ events: 0, snapshots: 5 })).toBe('5 snapshots');
    expect(droppedSnapshotsText({ events: 0, snapshots: 32, inCommands: { trace: 13, refwatch: 19 } })).toBe(
      '32 snapshots (all of them during its own commands: trace 13, refwatch 19)',
    );
    expect(droppedSnapshotsText({ events: 0, snapshots: 40, inCommands: { trace: 13 } })).toBe('40 snapshots (13 of them during its own commands: trace 13)');
  });
});
