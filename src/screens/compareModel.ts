// The compare screen's model: two runs of one scenario (two kernels, or a kernel and a
// saved run) kept in step by scenario step. Step N of A beside step N of B, whatever the
// time each took: each side's state at the end of every step it has finished, and the
// rows of the screen for one step with the ones that differ marked. Pure: states and
// reports in, rows out (the controller in compare.ts feeds it, live or from transcripts).
//
// What counts as a difference follows src/lab/compare.ts: what the kernels did, never how
// the lab saw it. A page's references above its idle refcount and its pins are compared,
// not its raw refcount (the idle baseline is 1 before v6.15 and 0 after: 2 on 6.1 and 1
// on 7.2 can be the same one reference); an actor's kind of state (blocked in the kernel,
// waiting for the lab, exited), not the function it sleeps in (xfs_break_dax_layouts on
// 6.x is dax_break_layout on 7.2). An expectation not applicable on one side, or a step
// one side has not reached, is not comparable: shown, never called a difference.
import type { ScenarioReport } from '../lab/engine.js';
import { compareRuns, CompareError, type ComparedRun, type Comparison } from '../lab/compare.js';
import { initialState, reduce, type LabState } from '../lab/state.js';
import { buildTimeline, statesAt, timelineInput, type StepShape, type Timeline } from '../lab/timeline.js';
import type { HostMessage } from '../wire/protocol.js';
import type { ExpectationView, ScenarioInfo } from './model.js';
import { cellText, STATUS_WORD } from './report.js';
import { laneRows, lockLabel, type Row } from './timelineText.js';
import { actorRow, describeAction, lockRows, pageRows } from './view.js';

export type SideStatus = 'queued' | 'booting' | 'running' | 'finished' | 'failed';

/** One step's guest times on one side (null: skipped, or not reached). */
export type SideStep = { start: number | null; end: number | null; skipped?: boolean };

export type CompareSide = {
  /** A profile name, or the saved run's file. */
  label: string;
  source: 'profile' | 'run';
  status: SideStatus;
  /** What it is doing now, or why it failed. */
  note: string;
  release: string | null;
  /** The state at the end of each step it has finished (index: step). */
  stepStates: LabState[];
  /** The state now: a live run's store, a finished run's last state. */
  now: LabState;
  /** The step running, or the last one reached; -1 before the first. */
  current: number;
  steps: SideStep[];
  expectations: ExpectationView[];
  /** The engine's report, once the run is over. */
  report: ScenarioReport | null;
  /** 0 held, 1 finding, 125 could not test, 3 a bug of daxlab; null while it runs. */
  exitCode: number | null;
  transcript: string | null;
};

export function emptySide(label: string, source: CompareSide['source'], status: SideStatus = 'queued', note = ''): CompareSide {
  return { label, source, status, note, release: null, stepStates: [], now: initialState(), current: -1, steps: [], expectations: [], report: null, exitCode: null, transcript: null };
}

/**
 * When each step is over, on the guest clock: just before the next step that ran begins
 * (a skipped step is passed on the way: the replies and samples that close a step arrive
 * after the engine's own "end" of it), else its end, else the end of the run. Never
 * earlier than the step before. A message at the boundary (the reply that ended the step,
 * which the next one starts from) belongs to the step.
 */
export function stepBoundaries(steps: readonly SideStep[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < steps.length; i++) {
    const next = steps.slice(i + 1).find((s) => s.start !== null)?.start ?? null;
    const t = next ?? (steps[i]!.end === null ? Infinity : steps[i]!.end! + 1e-9);
    out.push(Math.max(t, out[i - 1] ?? -Infinity));
  }
  return out;
}

/** Fold a run's messages once, keeping the state at the end of each step, and the last one. */
export function foldSteps(messages: Iterable<HostMessage>, steps: readonly SideStep[]): { stepStates: LabState[]; final: LabState } {
  const bounds = stepBoundaries(steps);
  const stepStates: LabState[] = [];
  let state = initialState({ events: 5000, actions: 2000 });
  for (const m of messages) {
    while (stepStates.length < bounds.length && m.t > bounds[stepStates.length]!) stepStates.push(state);
    state = reduce(state, m);
  }
  while (stepStates.length < bounds.length) stepStates.push(state);
  return { stepStates, final: state };
}

/** The steps of an engine report as the compare reads them. */
export const reportSteps = (r: ScenarioReport, count: number): SideStep[] =>
  Array.from({ length: Math.max(count, r.steps.length) }, (_, i) => {
    const s = r.steps.find((x) => x.step === i + 1);
    return { start: s?.start ?? null, end: s?.end ?? null, ...(s?.status === 'skipped' ? { skipped: true } : {}) };
  });

/** A finished run as one side: its transcript's messages folded step by step, its verdicts from its report. */
export function finishedSide(
  label: string,
  source: CompareSide['source'],
  messages: Iterable<HostMessage>,
  report: ScenarioReport,
  expectations: ExpectationView[],
  transcript: string | null,
  stepCount: number,
): CompareSide {
  const steps = reportSteps(report, stepCount);
  const { stepStates, final } = foldSteps(messages, steps);
  return {
    label,
    source,
    status: 'finished',
    note: `exit ${report.exitCode} (${report.verdict})${report.cannotTest ? `: ${report.cannotTest}` : ''}`,
    release: report.kernel.release,
    stepStates,
    now: final,
    current: steps.length - 1,
    steps,
    expectations,
    report,
    exitCode: report.exitCode,
    transcript,
  };
}

/** The state of a side at the end of step `n`: finished steps from their fold, the running one live; null if not reached. */
export function stateAt(side: CompareSide, n: number): { state: LabState; live: boolean } | null {
  if (n < side.stepStates.length) return { state: side.stepStates[n]!, live: false };
  if (n === side.current && side.status === 'running') return { state: side.now, live: true };
  return null;
}

/** Whether the side has got past step `n` (its verdicts for that step are in). */
const reached = (side: CompareSide, n: number) => n < side.stepStates.length || side.status === 'finished';

// ---------------------------------------------------------------------------------------
// The rows of one step.

export type RowKind = 'differs' | 'not-comparable' | 'same';
export type Section = 'expectations' | 'pages' | 'actors' | 'locks' | 'tables';
export type CompareRow = { section: Section; id: string; label: string; a: string; b: string; kind: RowKind; why?: string };

/** A cell of a row: what it shows, and the fact compared (null: nothing there). */
type Cell = { text: string; fact: string | null };
const none: Cell = { text: '-', fact: null };

function rowOf(section: Section, id: string, label: string, a: Cell, b: Cell, comparable = true): CompareRow {
  const kind: RowKind = !comparable || a.fact === null || b.fact === null ? 'not-comparable' : a.fact === b.fact ? 'same' : 'differs';
  return { section, id, label, a: a.text, b: b.text, kind };
}

function expectationCell(side: CompareSide, id: string, step: number): Cell & { status: string | null } {
  const e = side.expectations.find((x) => x.id === id);
  if (!e) return { text: reached(side, step) ? 'absent' : '…', fact: reached(side, step) ? 'absent' : null, status: null };
  if (e.status === 'pending' || !reached(side, e.step ?? Infinity)) return { text: side.status === 'failed' ? 'not decided' : '…', fact: null, status: null };
  const word = STATUS_WORD[e.status];
  return { text: `${word}${e.detail ? ` · ${e.detail}` : ''}`, fact: e.status, status: e.status };
}

/** Which step an expectation belongs to; run-level checks (no step) belong to the last. */
const stepOfExpectation = (e: ExpectationView, steps: number) => e.step ?? steps - 1;

function pageCell(state: LabState | null, key: string): Cell {
  const p = state ? pageRows(state).find((r) => r.key === key) : undefined;
  if (!p) return none;
  const text = `ref ${p.ref} (${p.aboveIdle >= 0 ? '+' : ''}${p.aboveIdle} above idle ${p.idle}${p.pins ? `, ${p.pins} pins` : ''})${p.stale ? ' last seen' : ''}`;
  return { text, fact: `${p.aboveIdle}/${p.pins}` };
}

/**
 * An actor's last action by the end of a step, from everything the side knows (its last
 * state): a reply can arrive after a later sample, so the step's own fold may not have it
 * yet; what counts is whether the action had ended by the step's boundary on the guest clock.
 */
function lastActionBy(known: LabState, name: string, bound: number): { text: string; fact: string } | null {
  const last = known.actions.filter((x) => x.actor === name && (x.start ?? x.end ?? Infinity) < bound).at(-1);
  if (!last) return null;
  const running = last.end === null || last.end > bound;
  const now = Number.isFinite(bound) ? bound : (known.lastT ?? 0);
  const text = running ? describeAction({ ...last, end: null }, now).text : describeAction(last, now).text;
  const fact = running ? 'running' : last.signal ? `killed ${last.signal}` : last.error ? `error ${last.error}` : 'returned';
  return { text, fact: `${last.op}: ${fact}` };
}

function actorCells(state: LabState | null, name: string, known?: LabState, bound = Infinity): { task: Cell; action: Cell } {
  const a = state?.actors[name];
  if (!a || !state) return { task: none, action: none };
  const row = actorRow(a, state.lastT ?? 0);
  // Running or waiting for the lab's next command is the same thing to compare: which one a
  // sample caught is the host's timing, not the kernel's doing.
  const kind = row.exit ? 'exited' : !a.task ? 'gone' : row.blocked ? 'blocked' : 'not blocked';
  const wchan = row.wchan && row.wchan !== '0' ? ` ${row.wchan}` : '';
  const task: Cell = { text: row.exit || `${row.state}${wchan}${row.blocked ? ` (blocked ${Math.round(row.blockedMs)} ms)` : ''}`, fact: kind };
  const action = lastActionBy(known ?? state, name, bound);
  return { task, action: action ?? none };
}

/** The last actions of one actor on both sides: compared only when they are the same op (else one side's reply is not in yet). */
function actionCells(a: Cell, b: Cell): { a: Cell; b: Cell; comparable: boolean } {
  const op = (c: Cell) => c.fact?.split(':')[0] ?? null;
  return { a, b, comparable: op(a) === op(b) };
}

function lockCell(state: LabState | null, key: string): Cell {
  const l = state ? lockRows(state).find((r) => r.key === key) : undefined;
  if (!l) return none;
  return { text: `${l.state}${l.owner ? ` by ${l.owner}` : ''}${l.waiters ? `, waiting: ${l.waiters}` : ''}`, fact: `${l.state}${l.waiters ? '+waiters' : ''}` };
}

const unionBy = <T>(lists: T[][]): T[] => lists.flat().filter((x, i, all) => all.indexOf(x) === i);

/**
 * The rows of step `n` (0-based): the expectations of the steps up to it with their status
 * on each side, then every page, actor and lock as each side's state shows it at the end
 * of that step; the scenario's tables cell by cell once both runs are over.
 */
export function stepRows(a: CompareSide, b: CompareSide, n: number, steps: number, comparison: Comparison | null = null): CompareRow[] {
  const rows: CompareRow[] = [];
  const ids = unionBy([a.expectations, b.expectations].map((list) => list.filter((e) => stepOfExpectation(e, steps) <= n).map((e) => e.id)));
  for (const id of ids) {
    const ea = expectationCell(a, id, n);
    const eb = expectationCell(b, id, n);
    const e = a.expectations.find((x) => x.id === id) ?? b.expectations.find((x) => x.id === id)!;
    // Not applicable (unobservable) on one kernel: not comparable, as compare.ts says.
    const na = (ea.status === 'not-applicable') !== (eb.status === 'not-applicable');
    rows.push({ ...rowOf('expectations', id, `${(e.step ?? steps - 1) + 1}:${id}`, ea, eb, !na), why: e.description });
  }
  const sa = stateAt(a, n)?.state ?? null;
  const sb = stateAt(b, n)?.state ?? null;
  const boundA = stepBoundaries(a.steps)[n] ?? Infinity;
  const boundB = stepBoundaries(b.steps)[n] ?? Infinity;
  const keys = unionBy([sa, sb].map((s) => (s ? pageRows(s).map((p) => p.key) : [])));
  for (const key of keys) rows.push(rowOf('pages', key, key, pageCell(sa, key), pageCell(sb, key)));
  const actors = unionBy([sa, sb].map((s) => (s ? Object.keys(s.actors) : [])));
  for (const name of actors) {
    const ca = actorCells(sa, name, a.now, boundA);
    const cb = actorCells(sb, name, b.now, boundB);
    rows.push(rowOf('actors', name, name, ca.task, cb.task));
    if (ca.action.fact !== null || cb.action.fact !== null) {
      const act = actionCells(ca.action, cb.action);
      rows.push(rowOf('actors', `${name}.action`, `${name} last`, act.a, act.b, act.comparable));
    }
  }
  const locks = unionBy([sa, sb].map((s) => (s ? lockRows(s).map((l) => l.key) : [])));
  for (const key of locks) rows.push(rowOf('locks', key, key.replace(/^[^:]*:/, ''), lockCell(sa, key), lockCell(sb, key)));
  if (comparison && n === steps - 1)
    for (const t of comparison.tables)
      for (const c of t.cells)
        rows.push({
          section: 'tables',
          id: `${t.name}:${c.row}:${c.column}`,
          label: `${c.row} x ${c.column}`,
          a: c.rawA ? cellText(c.rawA) : '-',
          b: c.rawB ? cellText(c.rawB) : '-',
          kind: c.differs ? 'differs' : c.oneSided ? 'not-comparable' : 'same',
          why: `table ${t.name}${c.fields.length ? `: ${c.fields.join(', ')} differ` : ''}`,
        });
  return rows;
}

/** Per step: whether any row of it differs ('*'), none does ('='), or a side has not reached it ('.'). */
export function stepMarks(a: CompareSide, b: CompareSide, steps: number, comparison: Comparison | null = null): string {
  let out = '';
  for (let n = 0; n < steps; n++) {
    if (!stateAt(a, n) || !stateAt(b, n)) out += '.';
    else out += stepRows(a, b, n, steps, comparison).some((r) => r.kind === 'differs') ? '*' : '=';
  }
  return out;
}

/** A step's guest time on a side: "21.20s +12 ms", "skipped", "not reached". */
export function stepTime(side: CompareSide, n: number): string {
  const s = side.steps[n];
  if (s?.skipped) return 'skipped';
  if (!s || s.start === null) return n === side.current && side.status === 'running' ? 'running' : 'not reached';
  const end = s.end ?? (n === side.current && side.status === 'running' ? side.now.lastT : null);
  const ms = end === null ? null : Math.round((end - s.start) * 1000);
  return `${s.start.toFixed(2)}s${ms === null ? '' : ` +${ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`}`}`;
}

/** The two runs compared as `daxlab compare` does, once both are over (null before). */
export function sidesComparison(a: CompareSide, b: CompareSide): Comparison | null {
  const done = (s: CompareSide) => s.status === 'finished' || s.status === 'failed';
  if (!done(a) || !done(b)) return null;
  const run = (s: CompareSide): ComparedRun => ({
    label: s.label,
    report: s.report,
    exitCode: s.exitCode ?? 125,
    ...(s.status === 'failed' || s.report?.cannotTest ? { error: s.report?.cannotTest ?? s.note } : {}),
  });
  try {
    return compareRuns(run(a), run(b));
  } catch (err) {
    if (err instanceof CompareError) return null;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// Aligned timelines: both runs' lanes with their steps lined up.

export type AlignedSide = { timeline: Timeline; steps: SideStep[] };

/** A side's timeline: its final (or current) state with the steps and verdicts of its record. */
export function sideTimeline(side: CompareSide, shapes: readonly StepShape[]): AlignedSide {
  const state = side.now;
  if (!side.report) return { timeline: buildTimeline(state), steps: side.steps };
  const input = timelineInput(side.report, state, shapes);
  return { timeline: buildTimeline(state, input), steps: side.steps };
}

export type Segment = { step: number; col: number; width: number };

export type AlignedGrid = {
  labelW: number;
  cols: number;
  segments: Segment[];
  /** The step numbers at each segment's first column. */
  ruler: string;
  /** Lane by lane: A's row, then B's (a lane one side lacks is blank there). */
  rows: Array<{ lane: string; side: 'A' | 'B'; row: Row | null }>;
  /** The guest time of column c on each side (the same fraction of the same step). */
  timeAt(side: 'A' | 'B', c: number): number;
};

/** Each step's span on a side; before the first step and after the last belong to them. */
function spans(s: AlignedSide, count: number): Array<[number, number]> {
  const tl = s.timeline;
  const starts = Array.from({ length: count }, (_, i) => s.steps[i]?.start ?? null);
  const out: Array<[number, number]> = [];
  let prev = tl.start;
  for (let i = 0; i < count; i++) {
    const start = Math.max(prev, starts[i] ?? prev);
    const next = starts.slice(i + 1).find((x) => x !== null) ?? null;
    const end = i === count - 1 ? Math.max(start, tl.end) : Math.max(start, next ?? s.steps[i]?.end ?? start);
    out.push([i === 0 ? tl.start : start, end]);
    prev = end;
  }
  return out;
}

/**
 * The two timelines over one axis of steps: each step gets columns by the larger share of
 * its run that either side spent in it (at least 2), and within a step each side's guest
 * time runs linearly over its columns. Step N starts in the same column on both.
 */
export function alignedGrid(a: AlignedSide, b: AlignedSide, steps: number, width: number): AlignedGrid {
  const names = (s: AlignedSide) => [...s.timeline.actors.map((x) => x.name), ...s.timeline.pages.map((x) => x.key), ...s.timeline.locks.map((x) => lockLabel(x.key))];
  const lanes = unionBy([names(a), names(b)]);
  const labelW = Math.min(16, Math.max(4, ...lanes.map((l) => l.length)));
  const cols = Math.max(steps * 2, width - labelW - 3);
  const count = Math.max(1, steps);
  const sa = spans(a, count);
  const sb = spans(b, count);
  const share = (s: Array<[number, number]>) => {
    const total = Math.max(1e-6, s.reduce((n, [x, y]) => n + (y - x), 0));
    return s.map(([x, y]) => (y - x) / total);
  };
  const pa = share(sa);
  const pb = share(sb);
  const want = pa.map((p, i) => Math.max(p, pb[i]!));
  const sum = want.reduce((n, w) => n + w, 0) || 1;
  const free = cols - 2 * count;
  const widths = want.map((w) => 2 + Math.floor((w / sum) * free));
  widths[widths.length - 1]! += cols - widths.reduce((n, w) => n + w, 0);
  const segments: Segment[] = [];
  let col = 0;
  for (let i = 0; i < count; i++) {
    segments.push({ step: i, col, width: widths[i]! });
    col += widths[i]!;
  }
  const segOf = (c: number) => segments.find((s) => c >= s.col && c < s.col + s.width) ?? segments[segments.length - 1]!;
  const slotOf = (sp: Array<[number, number]>) => (c: number): [number, number] => {
    const seg = segOf(c);
    const [x, y] = sp[seg.step]!;
    const dt = (y - x) / seg.width;
    return [x + (c - seg.col) * dt, x + (c - seg.col + 1) * dt];
  };
  const rowsOf = (s: AlignedSide, slot: (c: number) => [number, number]) => {
    const map = new Map<string, Row>();
    for (const r of laneRows(s.timeline, { cols, slot })) map.set(r.label, r);
    return map;
  };
  const ra = rowsOf(a, slotOf(sa));
  const rb = rowsOf(b, slotOf(sb));
  const ruler = Array<string>(cols).fill(' ');
  for (const s of segments) {
    const text = `|${s.step + 1}`;
    for (let k = 0; k < text.length && k < s.width; k++) ruler[s.col + k] = text[k]!;
  }
  return {
    labelW,
    cols,
    segments,
    ruler: ruler.join(''),
    rows: lanes.flatMap((lane) => [
      { lane, side: 'A' as const, row: ra.get(lane) ?? null },
      { lane, side: 'B' as const, row: rb.get(lane) ?? null },
    ]),
    timeAt: (side, c) => {
      const sp = side === 'A' ? sa : sb;
      const seg = segOf(Math.max(0, Math.min(cols - 1, c)));
      const [x, y] = sp[seg.step]!;
      return x + ((Math.max(0, Math.min(cols - 1, c)) - seg.col + 0.5) / seg.width) * (y - x);
    },
  };
}

/** Every lane of both sides at the cursor column, side by side: what each run was doing at the same fraction of the same step. */
export function alignedReadout(a: AlignedSide, b: AlignedSide, grid: AlignedGrid, c: number): { at: [number, number]; rows: Array<{ lane: string; a: string; b: string }> } {
  const at: [number, number] = [grid.timeAt('A', c), grid.timeAt('B', c)];
  const text = (s: AlignedSide, t: number) => new Map(statesAt(s.timeline, t).map((x) => [x.kind === 'lock' ? lockLabel(x.lane) : x.lane, `${x.text}${x.extra ? `; ${x.extra}` : ''}`]));
  const ta = text(a, at[0]);
  const tb = text(b, at[1]);
  const lanes = unionBy([[...ta.keys()], [...tb.keys()]]);
  return { at, rows: lanes.map((lane) => ({ lane, a: ta.get(lane) ?? '-', b: tb.get(lane) ?? '-' })) };
}

/** A side as the screen names it: the profile, or the saved run's file name. */
export const sideName = (s: CompareSide) => (s.source === 'run' ? (s.label.split('/').pop() ?? s.label) : s.label);

/** The scenario's step labels for the strip and the step line. */
export const stepLabel = (info: ScenarioInfo | null, n: number) => info?.steps[n]?.label ?? `step ${n + 1}`;
