// The timeline of a recorded dma-vs-truncate run on 6.1 (xfs): the model, the report's
// text form and the dashboard's view must all show the page back at idle while the
// truncator still sleeps, cross-checked against the engine's own finding evidence.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTimeline, statesAt, type Timeline } from '../../../src/lab/timeline.js';
import { ReplayController } from '../../../src/screens/replay.js';
import { buildReport, reportText } from '../../../src/screens/report.js';
import { runTimeline, timelineGrid } from '../../../src/screens/timelineText.js';
import { delay, fixture, renderApp } from './harness.js';

const RUN = fixture('dma-vs-truncate-xfs.jsonl');
const REPORT = fixture('dma-vs-truncate-xfs.report.json');
const finding = JSON.parse(fs.readFileSync(REPORT, 'utf8')).findings[0] as {
  expectation: string;
  evidence: { page: { page: string; idleSince: number }; times: { now: number }; task: { actor: string; wchan: string } };
};

function replayedRun(): ReplayController {
  const c = new ReplayController(RUN, { paused: true, report: REPORT });
  c.runToEnd();
  return c;
}

/** The screen once `ok` holds (a loaded machine renders late), or the last one. */
async function screenWhen(screen: () => string, ok: (s: string) => boolean): Promise<string> {
  for (let i = 0; i < 40 && !ok(screen()); i++) await delay(50);
  return screen();
}

let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());

describe('the timeline model', () => {
  const c = replayedRun();
  const tl: Timeline = runTimeline(c.store.state, c.getView().run);
  const idleAt = finding.evidence.page.idleSince;
  const now = finding.evidence.times.now;

  it('has a lane per actor and per watched page, the steps that acted and the finding at its time', () => {
    expect(tl.actors.map((a) => a.name).sort()).toEqual(['dma', 'truncator']);
    expect(tl.pages.map((p) => p.key)).toEqual([finding.evidence.page.page]);
    const open = tl.steps.find((s) => s.id === 'open')!;
    const openAction = c.store.state.actions.find((a) => a.actor === 'dma' && a.op === 'open')!;
    expect(open.start).toBeLessThanOrEqual(openAction.start!);
    expect(open.end).toBe(openAction.end);
    // io-done and wake only check: they have no command of their own to place them by.
    expect(tl.steps.filter((s) => s.start === null).map((s) => s.id)).toEqual(['io-done', 'wake']);
    expect(tl.verdicts.filter((v) => v.finding).map((v) => [v.id, v.t])).toEqual([[finding.expectation, now]]);
  });

  it('the page comes back to idle when the engine says it did, while the truncator sleeps on in the same function', () => {
    const page = tl.pages[0]!;
    const back = page.spans.find((s) => s.aboveIdle <= 0 && s.start > page.spans[0]!.start)!;
    // The reducer's fold and the engine's evidence agree on the instant (same samples).
    expect(back.start).toBeCloseTo(idleAt, 2);
    const truncator = tl.actors.find((a) => a.name === finding.evidence.task.actor)!;
    const asleep = truncator.spans.find((s) => s.kind === 'blocked' && s.start <= idleAt && s.end >= now);
    expect(asleep?.wchan).toBe(finding.evidence.task.wchan.replace(/\+.*$/, ''));
    const at = statesAt(tl, (idleAt + now) / 2);
    expect(at.find((s) => s.lane === page.key)?.text).toMatch(/^at idle/);
    expect(at.find((s) => s.lane === truncator.name)?.text).toMatch(/^blocked \(S\) in xfs_break_dax_layouts/);
  });

  it('without a record there are lanes but no steps or verdicts', () => {
    const bare = buildTimeline(c.store.state);
    expect(bare.actors).toHaveLength(2);
    expect(bare.steps).toEqual([]);
    expect(bare.verdicts).toEqual([]);
  });

  it('in characters: the column where the page is back at idle shows the truncator blocked', () => {
    const g = timelineGrid(tl, { width: 72 });
    const row = (label: string) => g.rows.find((r) => r.label === label)!;
    const col = g.col((idleAt + now) / 2);
    expect(row(finding.evidence.page.page).cells[col]).toBe('_');
    expect(row('truncator').tones[col]).toBe('b');
    expect(row('findings').cells[g.col(now)]).toBe('!');
  });
});

describe('the report', () => {
  it('carries the lanes at 72 columns, ASCII, with every lane at the finding', () => {
    const c = replayedRun();
    const text = reportText(buildReport(c.store.state, c.getView().run, RUN, []), 72);
    const lines = text.split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(72);
    expect(text).not.toMatch(/[^\x00-\x7f]/);
    expect(text).toMatch(/^truncator\s+[.=]*#xfs_break_dax_layouts#+/m);
    expect(text).toMatch(/^victim#0\s+_?1+_+/m);
    expect(text).toContain(`At ${finding.evidence.times.now.toFixed(2)}s (the finding ${finding.expectation}):`);
    expect(text).toMatch(/victim#0\s+at idle \(ref 1\) since 18\.68s/);
    expect(text).toMatch(/truncator\s+blocked \(S\) in xfs_break_dax_layouts/);
  });
});

describe('the timeline view (t on the dashboard)', () => {
  it('opens at the finding, zooms, moves the cursor and goes back to the panels', async () => {
    const app = renderApp(replayedRun(), 'live');
    cleanup = app.unmount;
    await delay();
    await app.press('t');
    let s = await screenWhen(app.screen, (x) => x.includes('daxlab · timeline'));
    expect(s).toContain('daxlab · timeline · replay');
    expect(s).toContain(`cursor ${finding.evidence.times.now.toFixed(3)}s`);
    expect(s).toMatch(/victim#0\s+at idle \(ref 1\) since 18\.68s/);
    expect(s).toMatch(/truncator\s+blocked \(S\) in xfs_break_dax_layouts since 16\.75s/);
    const perColumn = (x: string) => Number(/(\d+) ms a column/.exec(x)![1]);
    const before = perColumn(s);
    await app.press('++');
    s = await screenWhen(app.screen, (x) => perColumn(x) < before / 3);
    expect(perColumn(s)).toBeLessThan(before / 3);
    await app.press('N');
    s = await screenWhen(app.screen, (x) => /cursor 16\.74\ds/.test(x));
    // The mark before the finding is the truncate step: the cursor is on it.
    expect(s).toMatch(/cursor 16\.74\ds/);
    expect(s).toMatch(/truncator\s+waiting for the lab/);
    await app.press('t');
    expect(await screenWhen(app.screen, (x) => x.includes('daxlab · dashboard'))).toContain('daxlab · dashboard · replay');
  });
});
