// A comparison of two runs as plain text for a mail reply: every line at most 72
// columns, ASCII only, with the same wrapping, status words and table cells as the
// single-run report (report.ts). Pure.
import type { CellDiff, Comparison, ExpectationDiff, SideFacts } from '../lab/compare.js';
import { ascii, cellText, STATUS_WORD, TABLE_LEGEND, wrap } from './report.js';

const kernelText = (s: SideFacts) =>
  s.release ? `${s.release}, era ${s.era ?? '?'}, fsdax idle refcount ${s.fsdaxIdleRefcount ?? '?'}${s.fs ? `, ${s.fs}` : ''}` : 'no kernel report';

function sideHeader(name: 'A' | 'B', s: SideFacts): string[] {
  const out = [`${name}: ${s.label}: ${kernelText(s)}`];
  if (s.version) out.push(s.version);
  out.push(`verdict: ${s.verdict} (exit ${s.exitCode})${s.cannotTest ? `: ${s.cannotTest}` : ''}`);
  return out;
}

const statusWord = (side: ExpectationDiff['a']) => (side ? STATUS_WORD[side.status] : 'absent');

function cellLine(c: CellDiff): { label: string; a: string; b: string } {
  return { label: `${c.row} x ${c.column}`, a: cellText(c.rawA), b: cellText(c.rawB) };
}

export function compareText(c: Comparison, width = 72): string {
  const lines: string[] = [];
  const para = (text: string, indent = '', first = indent) => {
    const w = wrap(ascii(text), width, indent);
    if (w.length) w[0] = first + w[0]!.slice(indent.length);
    lines.push(...w);
  };
  para(`daxlab compare: ${c.scenario.id} - ${c.scenario.title}`);
  for (const [name, s] of [['A', c.a], ['B', c.b]] as const) {
    const [head, ...rest] = sideHeader(name, s);
    para(head!, '   ', '');
    for (const r of rest) para(r, '   ');
  }
  para(`outcome: ${c.outcome} (exit ${c.exitCode})`);
  lines.push('');

  const groups: Array<[ExpectationDiff['kind'], string]> = [
    ['differs', 'Differences'],
    ['not-comparable', 'Not comparable (not observable, or no report, on one kernel)'],
    ['same', 'Same on both'],
  ];
  for (const [kind, heading] of groups) {
    const group = c.expectations.filter((e) => e.kind === kind);
    if (!group.length) continue;
    lines.push(`${heading} (${group.length}):`);
    for (const e of group) {
      para(`${e.id}: ${e.description}`, '      ', '  ');
      if (e.a && e.b && e.a.status === e.b.status && e.a.detail === e.b.detail) {
        para(`[${statusWord(e.a)}] ${e.a.detail}`, '         ', '    A,B ');
      } else {
        para(`[${statusWord(e.a)}] ${e.a?.detail ?? ''}`.trimEnd(), '         ', '    A   ');
        para(`[${statusWord(e.b)}] ${e.b?.detail ?? ''}`.trimEnd(), '         ', '    B   ');
      }
    }
    lines.push('');
  }

  for (const t of c.tables) {
    const oneSided = t.cells.filter((cell) => cell.oneSided).length;
    lines.push(`Table ${t.name}, cell by cell (${t.differing} differ, marked *${oneSided ? `; ${oneSided} measured on one side only, marked ?` : ''}):`);
    const rows = t.cells.map((cell) => ({ cell, ...cellLine(cell) }));
    const labelWidth = Math.max(...rows.map((r) => r.label.length), 4);
    const aWidth = Math.max(...rows.map((r) => r.a.length), 1);
    for (const r of rows) {
      const mark = r.cell.differs ? '* ' : r.cell.oneSided ? '? ' : '  ';
      const line = `${mark}${r.label.padEnd(labelWidth)}  A ${r.a.padEnd(aWidth)}  B ${r.b}`;
      if (line.length + 2 <= width) lines.push(`  ${line}`.trimEnd());
      else para(`${mark}${r.label}: A ${r.a}; B ${r.b}`, '      ', '  ');
    }
    para(TABLE_LEGEND, '  ', '  ');
    lines.push('');
  }

  const findings = (f: string[]) => (f.length ? f.join(', ') : 'none');
  para(`Findings: A ${findings(c.findings.a)}; B ${findings(c.findings.b)}`);
  return `${lines.join('\n')}\n`;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The comparison as Markdown: the header, one table of expectations (differences first), each scenario table cell by cell. */
export function compareMarkdown(c: Comparison): string {
  const out: string[] = [`# daxlab compare: ${c.scenario.id}`, '', c.scenario.title, ''];
  for (const [name, s] of [['A', c.a], ['B', c.b]] as const) out.push(`- **${name}: ${mdCell(s.label)}**: ${kernelText(s)}; verdict ${s.verdict} (exit ${s.exitCode})${s.cannotTest ? `: ${mdCell(s.cannotTest)}` : ''}`);
  out.push('', `**Outcome:** ${c.outcome} (exit ${c.exitCode})`, '', '| | expectation | A | B |', '|---|---|---|---|');
  const mark = { differs: '**differs**', 'not-comparable': 'not comparable', same: 'same' } as const;
  for (const e of c.expectations)
    out.push(`| ${mark[e.kind]} | ${mdCell(`${e.id}: ${e.description}`)} | ${mdCell(`${statusWord(e.a)} ${e.a?.detail ?? ''}`)} | ${mdCell(`${statusWord(e.b)} ${e.b?.detail ?? ''}`)} |`);
  for (const t of c.tables) {
    out.push('', `## Table ${t.name} (${t.differing} differ)`, '', '| | cell | A | B |', '|---|---|---|---|');
    for (const cell of t.cells) out.push(`| ${cell.differs ? '**differs**' : cell.oneSided ? 'one side' : ''} | ${mdCell(`${cell.row} x ${cell.column}`)} | ${mdCell(cellText(cell.rawA))} | ${mdCell(cellText(cell.rawB))} |`);
    out.push('', TABLE_LEGEND);
  }
  const findings = (f: string[]) => (f.length ? f.join(', ') : 'none');
  out.push('', `Findings: A ${findings(c.findings.a)}; B ${findings(c.findings.b)}`, '');
  return out.join('\n');
}
