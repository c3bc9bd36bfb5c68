// The report of a run: verdicts and findings with their evidence, the timeline, where the
// transcript is. Rendered on the Report screen and exported as plain text wrapped at 72
// columns (to paste into a reply on a kernel mailing list) and as Markdown. Pure.
import type { Table } from '../lab/engine.js';
import { cellFacts } from '../lab/tables.js';
import type { LabState } from '../lab/state.js';
import type { ExpectationView, Finding, RunView } from './model.js';
import type { Timeline } from '../lab/timeline.js';
import { runTimeline, timelineReport } from './timelineText.js';
import { actorRow, describeAction, describeTaskState, fmtT } from './view.js';

export type TimelineItem = { t: number; text: string };

export type Report = {
  title: string;
  kernel: string;
  profile: string;
  scenario: string | null;
  outcome: string;
  expectations: ExpectationView[];
  findings: Finding[];
  pages: string[];
  tables: Record<string, Table>;
  timeline: TimelineItem[];
  /** The run drawn over guest time, lane by lane. */
  lanes: Timeline;
  loss: string[];
  transcript: string | null;
};

export function timeline(state: LabState): TimelineItem[] {
  const items: TimelineItem[] = [];
  for (const a of state.actions) {
    if (a.end === null) {
      if (a.start !== null) items.push({ t: a.start, text: `${a.actor}: ${a.op} started (still running)` });
      continue;
    }
    const d = describeAction(a, a.end);
    // Short actions are one line at their end; long ones show their start too.
    if (a.start !== null && a.end - a.start >= 0.1) items.push({ t: a.start, text: `${a.actor}: ${a.op} started` });
    items.push({ t: a.end, text: `${a.actor}: ${d.text}` });
  }
  for (const h of Object.values(state.refHistory)) {
    let prev: number | null = null;
    for (const c of h.changes) {
      if (prev !== null) items.push({ t: c.t, text: `${h.key} refcount ${prev} -> ${c.ref}${c.aboveIdle <= 0 ? ' (idle)' : ` (+${c.aboveIdle} above idle${c.pins ? `, ${c.pins} pins` : ''})`}` });
      prev = c.ref;
    }
  }
  for (const a of Object.values(state.actors)) {
    let wasBlocked = false;
    for (const tr of a.history) {
      const blocked = actorRow({ ...a, task: tr.state === 'gone' ? null : { name: a.name, pid: 0, state: tr.state, wchan: tr.wchan, blockedMs: 0, stack: [...tr.stack] } }, tr.t).blocked;
      if (blocked) items.push({ t: tr.t, text: `${a.name}: ${describeTaskState(tr.state)} in ${tr.wchan}${tr.stack[1] ? ` <- ${tr.stack[1]}` : ''}` });
      else if (wasBlocked) items.push({ t: tr.t, text: `${a.name}: no longer blocked (${describeTaskState(tr.state)})` });
      wasBlocked = blocked;
    }
  }
  for (const s of state.signals) items.push({ t: s.t, text: `${s.actor}: got ${s.signal}` });
  for (const x of state.exits) items.push({ t: x.t, text: `${x.actor}: ${x.signal ? `killed by ${x.signal}` : `exited ${x.status ?? ''}`}` });
  for (const h of Object.values(state.lockHistory))
    for (const tr of h.transitions)
      if (tr.waiters.length) items.push({ t: tr.t, text: `${h.key}: ${tr.state}${tr.owner ? ` by ${tr.owner.comm}` : ''}, waiting: ${tr.waiters.map((w) => w.comm).join(', ')}` });
  return items.sort((x, y) => x.t - y.t);
}

export function buildReport(state: LabState, run: RunView | null, transcript: string | null, loss: string[]): Report {
  const expectations = run?.expectations ?? [];
  const findings = run?.findings ?? [];
  const violated = expectations.filter((e) => e.status === 'violated').length;
  const pending = expectations.filter((e) => e.status === 'pending').length;
  let outcome: string;
  if (!run) outcome = 'no scenario ran: state and timeline only';
  else if (run.status === 'failed') outcome = `the run could not complete: ${run.error ?? 'unknown error'}`;
  else if (violated || findings.length) outcome = `${findings.length || violated} finding(s): the kernel did not do what the scenario expects`;
  else if (pending) outcome = `${pending} expectation(s) not decided yet (run ${run.status})`;
  else outcome = `every expectation held (${expectations.length})`;
  const pages = Object.values(state.refHistory).map(
    (h) =>
      `${h.key}: idle ${h.idle}, peak +${h.peakAboveIdle} above idle, ${h.peakPins} pins at most; refcount ${h.changes.map((c) => `${c.ref}@${fmtT(c.t)}`).join(' ')}` +
      (h.evictedChanges ? ` (${h.evictedChanges} earlier changes evicted)` : ''),
  );
  return {
    title: run ? `daxlab: ${run.scenario.id} — ${run.scenario.title}` : 'daxlab run',
    kernel: state.kernel ? `${state.kernel.release} ${state.kernel.version}` : (state.run?.kernel ?? 'unknown'),
    profile: state.run?.profile ?? '',
    scenario: run?.scenario.id ?? null,
    outcome,
    expectations,
    findings,
    pages,
    tables: run?.tables ?? {},
    timeline: timeline(state),
    lanes: runTimeline(state, run),
    loss,
    transcript,
  };
}

/** Greedy word wrap; words longer than the width are broken. */
export function wrap(text: string, width: number, indent = ''): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (let word of para.split(/\s+/).filter(Boolean)) {
      while (word.length > width - indent.length) {
        if (line) {
          out.push(line);
          line = '';
        }
        out.push(indent + word.slice(0, width - indent.length));
        word = word.slice(width - indent.length);
      }
      if (!line) line = indent + word;
      else if (line.length + 1 + word.length <= width) line += ` ${word}`;
      else {
        out.push(line);
        line = indent + word;
      }
    }
    out.push(line);
  }
  return out;
}

/** A table cell in a few characters: "+1", "+1024 p+1", "EOPNOTSUPP"; "(!)" when the release did not put the page back. */
export function cellText(cell: { take?: Record<string, unknown>; release?: Record<string, unknown> } | undefined): string {
  const f = cellFacts(cell);
  if (!f) return '-';
  const text = f.taken ? `+${f.aboveIdle}${Number(f.pins) ? ` p+${f.pins}` : ''}` : f.result;
  return text + (f.putBack === false ? ' (!)' : '');
}

export const TABLE_LEGEND = '+N: references above idle taken; p+N: pins; (!): the release did not put the page back';

function tableRows(t: Table): string[][] {
  return [['', ...t.columns], ...t.rows.map((row) => [row, ...t.columns.map((c) => cellText(t.cells[row]?.[c]))])];
}

export const STATUS_WORD: Record<ExpectationView['status'], string> = { held: 'held', violated: 'VIOLATED', pending: 'undecided', 'not-applicable': 'n/a' };

/** Plain ASCII for mail: arrows, ellipses and dashes spelled out. */
export const ascii = (s: string) => s.replace(/→/g, '->').replace(/←/g, '<-').replace(/…/g, '...').replace(/[—–]/g, '-').replace(/×/g, 'x').replace(/[^\x00-\x7f]/g, '?');

/** Plain text, every line at most `width` columns (72: a mail reply), ASCII only. */
export function reportText(r: Report, width = 72): string {
  const lines: string[] = [];
  const para = (text: string, indent = '', first = indent) => {
    const w = wrap(ascii(text), width, indent);
    if (w.length) w[0] = first + w[0]!.slice(indent.length);
    lines.push(...w);
  };
  para(r.title);
  para(`kernel: ${r.kernel}`);
  if (r.profile) para(`profile: ${r.profile}`);
  para(`outcome: ${r.outcome}`);
  lines.push('');
  if (r.expectations.length) {
    lines.push('Expectations:');
    for (const e of r.expectations) {
      para(`[${STATUS_WORD[e.status]}] ${e.description}${e.detail ? ` -- ${e.detail}` : ''}`, '    ', '  ');
    }
    lines.push('');
  }
  for (const f of r.findings) {
    para(`Finding: ${f.title}`);
    para(f.detail, '  ');
    for (const ev of f.evidence) para(ev, '      ', '    - ');
    lines.push('');
  }
  if (r.pages.length) {
    lines.push('Pages:');
    for (const p of r.pages) para(p, '      ', '  - ');
    lines.push('');
  }
  for (const [name, t] of Object.entries(r.tables)) {
    const rows = tableRows(t);
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    lines.push(`Table ${name}:`);
    for (const row of rows) lines.push(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd());
    para(TABLE_LEGEND, '  ', '  ');
    lines.push('');
  }
  lines.push('Timeline (guest seconds):');
  for (const it of r.timeline) para(it.text, ' '.repeat(12), `  ${fmtT(it.t).padStart(9)} `);
  const lanes = timelineReport(r.lanes, width);
  if (lanes.length) lines.push('', ...lanes.map(ascii));
  if (r.loss.length) {
    lines.push('');
    para(`Not everything was kept: ${r.loss.join('; ')}.`);
  }
  if (r.transcript) {
    lines.push('');
    para(`Transcript: ${r.transcript}`);
  }
  return `${lines.join('\n')}\n`;
}

export function reportMarkdown(r: Report): string {
  const md = (s: string) => s.replace(/([|*_`])/g, '\\$1');
  const out: string[] = [`# ${md(r.title)}`, '', `- kernel: \`${r.kernel}\``];
  if (r.profile) out.push(`- profile: \`${r.profile}\``);
  out.push(`- outcome: **${md(r.outcome)}**`, '');
  if (r.expectations.length) {
    out.push('## Expectations', '', '| status | expectation | seen |', '|---|---|---|');
    for (const e of r.expectations) out.push(`| ${STATUS_WORD[e.status]} | ${md(e.description)} | ${md(e.detail ?? '')} |`);
    out.push('');
  }
  for (const f of r.findings) {
    out.push(`## Finding: ${md(f.title)}`, '', md(f.detail), '');
    for (const ev of f.evidence) out.push(`- \`${ev.replace(/`/g, "'")}\``);
    out.push('');
  }
  if (r.pages.length) out.push('## Pages', '', ...r.pages.map((p) => `- ${md(p)}`), '');
  for (const [name, t] of Object.entries(r.tables)) {
    const [head, ...rows] = tableRows(t);
    out.push(`## Table ${md(name)}`, '', `| ${head!.map(md).join(' | ')} |`, `|${head!.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(md).join(' | ')} |`), '', TABLE_LEGEND, '');
  }
  out.push('## Timeline', '', '| guest time | what |', '|---:|---|');
  for (const it of r.timeline) out.push(`| ${fmtT(it.t)} | ${md(it.text)} |`);
  out.push('');
  const lanes = timelineReport(r.lanes, 72);
  if (lanes.length) out.push('## Timeline lanes', '', '```', ...lanes.map(ascii), '```', '');
  if (r.loss.length) out.push(`Not everything was kept: ${md(r.loss.join('; '))}.`, '');
  if (r.transcript) out.push(`Transcript: \`${r.transcript}\``, '');
  return out.join('\n');
}

