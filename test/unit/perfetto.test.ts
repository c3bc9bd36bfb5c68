// daxlab export --format perfetto: the recorded dma-vs-truncate run on 6.1 as trace-event
// JSON, checked against the format (phases, required fields, balanced begin/end and
// monotonic timestamps per track), and against what the run did.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { exportCommand } from '../../src/commands/export.js';
import { CannotTestError } from '../../src/exit.js';
import { perfettoTrace, type TraceEvent } from '../../src/lab/perfetto.js';
import { buildTimeline } from '../../src/lab/timeline.js';
import { ReplayController } from '../../src/screens/replay.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures');
const RUN = path.join(fixtures, 'dma-vs-truncate-xfs.jsonl');
const finding = JSON.parse(fs.readFileSync(path.join(fixtures, 'dma-vs-truncate-xfs.report.json'), 'utf8')).findings[0];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-export-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The trace-event format's rules (JSON Object Format); what breaks one, in words. */
function formatProblems(trace: unknown): string[] {
  const out: string[] = [];
  const t = trace as { traceEvents?: unknown; displayTimeUnit?: unknown };
  if (!t || typeof t !== 'object' || !Array.isArray(t.traceEvents)) return ['no traceEvents array'];
  if (t.displayTimeUnit !== undefined && t.displayTimeUnit !== 'ms' && t.displayTimeUnit !== 'ns') out.push(`displayTimeUnit ${t.displayTimeUnit}`);
  const stacks = new Map<string, string[]>();
  const last = new Map<string, number>();
  (t.traceEvents as TraceEvent[]).forEach((e, i) => {
    const at = `event ${i} (${JSON.stringify(e).slice(0, 80)})`;
    if (typeof e.name !== 'string' || !e.name) out.push(`${at}: no name`);
    if (!['B', 'E', 'i', 'C', 'M'].includes(e.ph)) out.push(`${at}: phase ${e.ph}`);
    if (!Number.isInteger(e.pid) || !Number.isInteger(e.tid)) out.push(`${at}: pid/tid not integers`);
    if (e.ph === 'M') {
      if (!['process_name', 'thread_name', 'thread_sort_index', 'process_sort_index'].includes(e.name)) out.push(`${at}: unknown metadata`);
      if (e.args === undefined) out.push(`${at}: metadata without args`);
      return;
    }
    if (typeof e.ts !== 'number' || !Number.isFinite(e.ts) || e.ts < 0) return void out.push(`${at}: ts ${e.ts}`);
    const track = e.ph === 'C' ? `C ${e.pid} ${e.name}` : `T ${e.pid} ${e.tid}`;
    if ((last.get(track) ?? -Infinity) > e.ts) out.push(`${at}: ts goes back on ${track}`);
    last.set(track, e.ts);
    if (e.ph === 'i' && !['g', 'p', 't'].includes(e.s ?? '')) out.push(`${at}: instant scope ${e.s}`);
    if (e.ph === 'C' && (!e.args || !Object.values(e.args).length || Object.values(e.args).some((v) => typeof v !== 'number' || !Number.isFinite(v)))) out.push(`${at}: counter args not numbers`);
    const stack = stacks.get(track) ?? [];
    stacks.set(track, stack);
    if (e.ph === 'B') stack.push(e.name);
    if (e.ph === 'E' && stack.pop() !== e.name) out.push(`${at}: E does not close the open B`);
  });
  for (const [track, stack] of stacks) if (stack.length) out.push(`${track}: ${stack.length} B without E (${stack.join(', ')})`);
  return out;
}

describe('the trace-event format check', () => {
  it('fails on what breaks the format', () => {
    const ok: TraceEvent = { name: 'a', ph: 'B', pid: 1, tid: 1, ts: 5 };
    expect(formatProblems({ traceEvents: [ok, { ...ok, ph: 'E', ts: 6 }] })).toEqual([]);
    expect(formatProblems({ traceEvents: [ok] })).toEqual(['T 1 1: 1 B without E (a)']);
    expect(formatProblems({ traceEvents: [ok, { ...ok, ph: 'E', ts: 4 }] })[0]).toMatch(/ts goes back/);
    expect(formatProblems({ traceEvents: [ok, { ...ok, name: 'b', ph: 'E', ts: 6 }] })[0]).toMatch(/E does not close/);
    expect(formatProblems({ traceEvents: [{ ...ok, ph: 'i', s: 'x' }] })[0]).toMatch(/instant scope/);
    expect(formatProblems({ traceEvents: [{ ...ok, ph: 'C', args: { n: 'x' } }] })[0]).toMatch(/counter args/);
    expect(formatProblems({})).toEqual(['no traceEvents array']);
  });
});

describe('daxlab export --format perfetto (dma-vs-truncate, 6.1, xfs)', () => {
  const out = path.join(dir, 'dma.json');
  let trace: { traceEvents: TraceEvent[] };

  it('writes a trace that passes the format check', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await exportCommand(['--format', 'perfetto', RUN, '-o', out])).toBe(0);
    err.mockRestore();
    trace = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(formatProblems(trace)).toEqual([]);
  });

  it('one thread per actor, a counter per watched page, the steps as a track, the finding as an instant', () => {
    const threads = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => String(e.args!.name));
    expect(threads.filter((n) => /^(dma|truncator) \(pid \d+\)$/.test(n)).sort()).toEqual(['dma (pid 128)', 'truncator (pid 129)']);
    expect(threads).toContain('scenario steps');
    const counters = new Set(trace.traceEvents.filter((e) => e.ph === 'C').map((e) => e.name));
    expect([...counters].filter((n) => n.endsWith(' refcount'))).toEqual([`${finding.evidence.page.page} refcount`]);
    expect(counters).toContain(`${finding.evidence.page.page} pins`);
    const f = trace.traceEvents.filter((e) => e.ph === 'i' && e.cat === 'verdict' && e.name.startsWith('finding:'));
    expect(f.map((e) => [e.name, e.ts])).toEqual([[`finding: ${finding.expectation}`, Math.round(finding.evidence.times.now * 1e6)]]);
    const stepTid = trace.traceEvents.find((e) => e.ph === 'M' && e.args?.name === 'scenario steps')!.tid;
    expect(trace.traceEvents.filter((e) => e.tid === stepTid && e.ph === 'B').map((e) => e.name)).toEqual(['1 open', '2 map', '3 fault', '4 dio', '5 truncate', '8 nudge']);
  });

  it("the truncator's blocked span is named by its function and covers the page's return to idle and the finding", () => {
    const tid = trace.traceEvents.find((e) => e.ph === 'M' && String(e.args?.name).startsWith('truncator'))!.tid;
    const mine = trace.traceEvents.filter((e) => e.tid === tid && (e.ph === 'B' || e.ph === 'E'));
    const b = mine.find((e) => e.ph === 'B' && e.name === 'xfs_break_dax_layouts')!;
    const e = mine.find((x) => x.ph === 'E' && x.name === 'xfs_break_dax_layouts')!;
    expect(b.ts!).toBeLessThan(finding.evidence.page.idleSince * 1e6);
    expect(e.ts!).toBeGreaterThan(finding.evidence.times.now * 1e6);
    // Nested in its truncate action.
    expect(mine[0]).toMatchObject({ ph: 'B', name: 'truncate' });
    // The page counter is at idle (0 above) from the instant the engine says.
    const above = trace.traceEvents.filter((x) => x.ph === 'C' && x.name === `${finding.evidence.page.page} above idle`);
    const back = above.find((x, i) => i > 0 && x.args!.above_idle === 0)!;
    expect(back.ts! / 1e6).toBeCloseTo(finding.evidence.page.idleSince, 2);
  });

  it('a transcript without a record exports its lanes only; bad options are a usage error, a missing transcript could-not-test', async () => {
    const c = new ReplayController(path.join(fixtures, 'selftest-xfs.jsonl'), { paused: true });
    c.runToEnd();
    const bare = perfettoTrace(buildTimeline(c.store.state));
    expect(formatProblems(bare)).toEqual([]);
    expect(bare.traceEvents.some((e) => e.cat === 'verdict')).toBe(false);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await exportCommand(['--format', 'svg', RUN])).toBe(2);
    // A transcript that is not there is checked as replay checks it: could not test (125).
    await expect(exportCommand(['--format', 'perfetto', path.join(dir, 'missing.jsonl')])).rejects.toThrow(CannotTestError);
    expect(await exportCommand(['--format', 'perfetto'])).toBe(2);
    err.mockRestore();
  });
});
