// The timeline drawn in characters: one row per lane, one column per slice of guest time.
// The dashboard's timeline view and the report's (72 columns, ASCII for mail) both draw
// with this; a row's `tones` says what each cell is, so the screen can colour it. Pure.
import type { LabState } from '../lab/state.js';
import { buildTimeline, focusTime, statesAt, timelineInput, type ActorLane, type LockLane, type PageLane, type Timeline } from '../lab/timeline.js';
import type { RunView } from './model.js';
import { wrap } from './report.js';

/** Per cell: b blocked, a in an action, r running, i waiting for the lab, x exit, h/H page above idle / pinned, _ idle, l lock held, w with waiters, f free, s step, ! finding, space nothing. */
export type Row = { label: string; cells: string; tones: string; kind: 'ruler' | 'steps' | 'actor' | 'page' | 'lock' | 'marks' };

export type Grid = { rows: Row[]; labelW: number; cols: number; from: number; to: number; dt: number; col(t: number): number };

/** Columns of lanes: how many, and the guest time span [lo, hi) each one covers. */
export type Slots = { cols: number; slot(c: number): [number, number] };

export const LEGEND =
  'actor: = in an action, # blocked in the kernel (the function named), - running, . waiting for the lab, x exit; page: _ at idle, 1-9 references above idle, P pinned; lock: w/r held, W held with waiters, . free; ! a finding.';

const NICE = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

const LABEL_MAX = 16;
/** "victim:invalidate_lock" is long for a label: the lock's name alone says which lock it is. */
export const lockLabel = (key: string) => (key.length > LABEL_MAX ? key.slice(key.indexOf(':') + 1) : key);
const short = (fn: string) => fn.replace(/\+0x[0-9a-f]+.*$/, '');
const clipLabel = (s: string, w: number) => (s.length <= w ? s.padEnd(w) : `~${s.slice(s.length - w + 1)}`);

/** Write `name` into each run of `tone` in the row that is long enough for it. */
function label(cells: string[], tones: string, tone: string, nameAt: (col: number) => string | null): void {
  for (let c = 0; c < cells.length; ) {
    if (tones[c] !== tone) {
      c++;
      continue;
    }
    let e = c;
    while (e < cells.length && tones[e] === tone) e++;
    // The run's first column with a name (a sample between two may have none).
    let name: string | null = null;
    for (let k = c; k < e && !name; k++) name = nameAt(k);
    if (name && e - c >= name.length + 2) for (let k = 0; k < name.length; k++) cells[c + 1 + k] = name[k]!;
    c = e;
  }
}

function actorRow(a: ActorLane, g: Slots): Row {
  const cells: string[] = [];
  let tones = '';
  const blockedAt: Array<string | null> = [];
  const actionAt: Array<string | null> = [];
  for (let c = 0; c < g.cols; c++) {
    const [lo, hi] = g.slot(c);
    const over = a.spans.filter((s) => s.start < hi && s.end >= lo);
    const blocked = over.find((s) => s.kind === 'blocked');
    const action = a.actions.find((x) => x.start < hi && (x.end === null ? Infinity : x.end) >= lo);
    let ch = ' ';
    let tone = ' ';
    if (a.exit && a.exit.t < hi && a.exit.t >= lo) (ch = 'x'), (tone = 'x');
    else if (a.exit && lo > a.exit.t) (ch = ' '), (tone = ' ');
    else if (blocked) (ch = '#'), (tone = 'b');
    else if (action) (ch = '='), (tone = 'a');
    else if (over.some((s) => s.kind === 'running')) (ch = '-'), (tone = 'r');
    else if (over.some((s) => s.kind === 'idle')) (ch = '.'), (tone = 'i');
    cells.push(ch);
    tones += tone;
    // A task sampled blocked while its wchan read 0 (between two samples of it) has no name to write.
    blockedAt.push(blocked && blocked.wchan !== '0' ? short(blocked.wchan) : null);
    actionAt.push(action ? action.op : null);
  }
  label(cells, tones, 'b', (c) => blockedAt[c] ?? null);
  label(cells, tones, 'a', (c) => actionAt[c] ?? null);
  return { label: a.name, cells: cells.join(''), tones, kind: 'actor' };
}

function pageRow(p: PageLane, g: Slots): Row {
  let cells = '';
  let tones = '';
  for (let c = 0; c < g.cols; c++) {
    const [lo, hi] = g.slot(c);
    const over = p.spans.filter((s) => s.start < hi && s.end >= lo);
    if (!over.length) {
      cells += ' ';
      tones += ' ';
      continue;
    }
    const above = Math.max(...over.map((s) => s.aboveIdle));
    const pins = Math.max(...over.map((s) => s.pins));
    if (pins > 0) (cells += 'P'), (tones += 'H');
    else if (above <= 0) (cells += '_'), (tones += '_');
    else (cells += above > 9 ? '+' : String(above)), (tones += 'h');
  }
  return { label: p.key, cells, tones, kind: 'page' };
}

function lockRow(l: LockLane, g: Slots): Row {
  let cells = '';
  let tones = '';
  for (let c = 0; c < g.cols; c++) {
    const [lo, hi] = g.slot(c);
    const over = l.spans.filter((s) => s.start < hi && s.end >= lo);
    if (!over.length) (cells += ' '), (tones += ' ');
    else if (over.some((s) => s.waiters.length)) (cells += 'W'), (tones += 'w');
    else if (over.some((s) => s.state === 'write')) (cells += 'w'), (tones += 'l');
    else if (over.some((s) => s.state.startsWith('read'))) (cells += 'r'), (tones += 'l');
    else if (over.some((s) => s.state.startsWith('unreadable'))) (cells += '?'), (tones += ' ');
    else (cells += '.'), (tones += 'f');
  }
  return { label: lockLabel(l.key), cells, tones, kind: 'lock' };
}

/** The grid of a timeline over [from, to] in `width` columns (labels included). */
export function timelineGrid(tl: Timeline, opts: { width: number; from?: number; to?: number }): Grid {
  const names = [...tl.actors.map((a) => a.name), ...tl.pages.map((p) => p.key), ...tl.locks.map((l) => lockLabel(l.key)), 'findings'];
  const labelW = Math.min(LABEL_MAX, Math.max(...names.map((n) => n.length)));
  const cols = Math.max(10, opts.width - labelW - 1);
  const from = opts.from ?? tl.start;
  const to = Math.max(from + 1e-3, opts.to ?? tl.end);
  const dt = (to - from) / cols;
  const col = (t: number) => Math.floor((t - from) / dt);
  const g = { labelW, cols, from, to, dt, col, slot: (c: number): [number, number] => [from + c * dt, from + (c + 1) * dt] };

  // The ruler: a tick every few columns, at round guest times.
  const step = NICE.find((s) => s / dt >= 10) ?? NICE[NICE.length - 1]!;
  const digits = Math.max(0, Math.min(3, -Math.floor(Math.log10(step))));
  const ruler = Array<string>(cols).fill(' ');
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    const c = col(t + 1e-9);
    const text = `|${t.toFixed(digits)}s`;
    if (c < 0 || c + text.length > cols || ruler.slice(c, c + text.length + 1).some((x) => x !== ' ')) continue;
    for (let k = 0; k < text.length; k++) ruler[c + k] = text[k]!;
  }
  const rows: Row[] = [{ label: 'guest time', cells: ruler.join(''), tones: ' '.repeat(cols), kind: 'ruler' }];

  const marks = (points: Array<{ t: number; ch: string }>, tone: string): { cells: string; tones: string } => {
    const cells = Array<string>(cols).fill(' ');
    for (const p of points) {
      const c = col(p.t);
      if (c >= 0 && c < cols) cells[c] = cells[c] === ' ' ? p.ch : '*';
    }
    return { cells: cells.join(''), tones: cells.map((x) => (x === ' ' ? ' ' : tone)).join('') };
  };
  if (tl.steps.some((s) => s.start !== null)) {
    const m = marks(tl.steps.filter((s) => s.start !== null).map((s) => ({ t: s.start!, ch: (s.step % 36).toString(36) })), 's');
    rows.push({ label: 'steps', ...m, kind: 'steps' });
  }
  rows.push(...laneRows(tl, g));
  const findings = tl.verdicts.filter((v) => v.finding && v.t !== null);
  if (findings.length) rows.push({ label: 'findings', ...marks(findings.map((v) => ({ t: v.t!, ch: '!' })), '!'), kind: 'marks' });
  return { rows, ...g };
}

/** The lanes' rows (actors, pages, locks) over any columns of guest time (the compare screen's are per step). */
export function laneRows(tl: Timeline, g: Slots): Row[] {
  return [...tl.actors.map((a) => actorRow(a, g)), ...tl.pages.map((p) => pageRow(p, g)), ...tl.locks.map((l) => lockRow(l, g))];
}

export const rowText = (r: Row, labelW: number) => `${clipLabel(r.label, labelW)} ${r.cells}`.trimEnd();

/** Every lane at one instant, as lines of `width` columns. */
export function cursorLines(tl: Timeline, t: number, width: number, labelW = LABEL_MAX): string[] {
  const indent = ' '.repeat(labelW + 3);
  return statesAt(tl, t).flatMap((s) => {
    const lane = s.kind === 'lock' ? lockLabel(s.lane) : s.lane;
    const lines = wrap(`${s.text}${s.since !== null ? ` since ${s.since.toFixed(2)}s` : ''}${s.extra ? `; ${s.extra}` : ''}`, width, indent);
    lines[0] = `  ${clipLabel(lane, labelW)} ${lines[0]!.slice(indent.length)}`;
    return lines;
  });
}

/** The report's timeline: the lanes at `width` columns, the steps, the findings and every lane at the first finding. */
export function timelineReport(tl: Timeline, width = 72): string[] {
  if (!tl.actors.length && !tl.pages.length && !tl.locks.length) return [];
  const g = timelineGrid(tl, { width });
  const out = [`Timeline lanes (guest seconds ${tl.start.toFixed(2)}-${tl.end.toFixed(2)}, ${Math.round(g.dt * 1000)} ms a column):`];
  for (const r of g.rows) out.push(rowText(r, g.labelW));
  const placed = tl.steps.filter((s) => s.start !== null);
  const unplaced = tl.steps.filter((s) => s.start === null);
  if (tl.steps.length) {
    const text =
      `Steps: ${placed.map((s) => `${(s.step % 36).toString(36)} ${s.label} ${s.start!.toFixed(2)}s`).join('; ')}` +
      (unplaced.length ? `; not on the ruler (no action of their own, or not run): ${unplaced.map((s) => `${s.step} ${s.id}`).join(', ')}` : '') +
      (placed.some((s) => s.inferred) ? ' (placed by the commands the lab sent)' : '');
    out.push(...wrap(text, width, '    ').map((l, i) => (i ? l : `  ${l.trimStart()}`)));
  }
  for (const v of tl.verdicts.filter((x) => x.finding)) out.push(...wrap(`! ${v.t !== null ? `${v.t.toFixed(2)}s ` : '(no time) '}${v.id}: ${v.text}`, width, '    ').map((l, i) => (i ? l : `  ${l.trimStart()}`)));
  const first = tl.verdicts.find((v) => v.finding && v.t !== null);
  const at = focusTime(tl);
  out.push(`  At ${at.toFixed(2)}s (${first ? `the finding ${first.id}` : 'the end of the run'}):`);
  out.push(...cursorLines(tl, at, width, g.labelW));
  out.push(...wrap(`Key: ${LEGEND}`, width, '    ').map((l, i) => (i ? l : `  ${l.trimStart()}`)));
  return out;
}

/**
 * The timeline of the run the screens show. A replay shows what it has reached: a step
 * not begun yet is off the ruler, a verdict later than the state's clock is not there.
 */
export function runTimeline(state: LabState, run: RunView | null): Timeline {
  if (!run?.record) return buildTimeline(state);
  const input = timelineInput(run.record.run, state, run.record.steps);
  const now = state.lastT ?? 0;
  const over = run.status === 'finished' || run.status === 'failed';
  return buildTimeline(state, {
    steps: (input.steps ?? []).map((s) => (s.start !== null && s.start > now ? { ...s, start: null, end: null } : s)),
    verdicts: (input.verdicts ?? []).filter((v) => (v.t === null ? over : v.t <= now)),
  });
}
