// The plain-text report of a scenario run (daxlab run without --json).
import type { ScenarioReport } from './engine.js';
import { cellFacts } from './tables.js';

/** A plain-text report: verdicts, findings with their key evidence. */
export function formatReport(r: ScenarioReport): string {
  const lines: string[] = [];
  lines.push(`${r.scenario.id}: ${r.scenario.title}`);
  lines.push(`kernel ${r.kernel.release} (fsdax idle refcount ${r.kernel.fsdaxIdleRefcount ?? '?'}${r.kernel.devdaxIdleRefcount == null ? '' : `, device-dax ${r.kernel.devdaxIdleRefcount}`}), ${r.profile.fs}, profile ${r.profile.name}, seed ${r.seed}`);
  for (const v of r.expectations) {
    const mark = v.status === 'held' ? 'held    ' : v.status === 'violated' ? 'VIOLATED' : 'n/a     ';
    lines.push(`  ${mark} ${v.id}: ${v.description}`);
    lines.push(`           ${v.detail}`);
  }
  for (const [name, t] of Object.entries(r.tables)) {
    lines.push('', `table ${name} (per cell: result, references above idle +N, pins +N, nr_foll_pin_acquired +N; "(!)": the release did not put the page back)`);
    const width = Math.max(...t.rows.map((x) => x.length), 8);
    lines.push(`  ${''.padEnd(width)}  ${t.columns.map((c) => c.padEnd(26)).join('')}`);
    for (const row of t.rows) {
      const cells = t.columns.map((c) => {
        const f = cellFacts(t.cells[row]?.[c]);
        if (!f) return '-'.padEnd(26);
        const txt = f.taken ? `${f.inFlight ? 'I/O' : 'ok'} +${f.aboveIdle} pins+${f.pins} acq+${f.acquired}` : `${f.result}${f.pinsMoved ? ` (acq+${f.acquired} rel+${f.released})` : ''}`;
        const rel = f.putBack === false ? ' (!)' : '';
        return `${txt}${rel}`.padEnd(26);
      });
      lines.push(`  ${row.padEnd(width)}  ${cells.join('')}`);
    }
  }
  // Who released each watched page (the refcount watchpoint), on a held run too: the path that wakes.
  const paths = (r.measurements.putPath as Array<{ text: string; crossCheck: { text: string }; writes: unknown[] }> | undefined) ?? [];
  if (paths.some((p) => p.writes.length)) {
    lines.push('', 'put path (hardware watchpoint on page->_refcount):');
    for (const p of paths.filter((x) => x.writes.length)) lines.push(`  ${p.text} (cross-check: ${p.crossCheck.text})`);
  }
  const failed = r.steps.filter((st) => st.failure);
  if (failed.length) {
    lines.push('', `actions that failed (${failed.length}):`);
    for (const st of failed) {
      const f = st.failure!;
      const whose = f.declared ? 'the scenario allows it' : f.kind === 'scenario' ? 'the scenario is wrong' : 'not declared by the scenario';
      lines.push(`  [${st.step}] ${st.id}: ${st.actor}'s ${st.op} failed: ${st.action?.error ?? st.action?.signal ?? '?'} (${whose}: ${f.why})`);
    }
  }
  if (r.findings.length) {
    lines.push('', `FINDINGS (${r.findings.length}): the kernel did what an expectation rules out`);
    for (const f of r.findings) lines.push(`  - ${f.expectation}: ${f.summary}`);
  }
  if (r.cannotTest) lines.push('', `could not test: ${r.cannotTest}`);
  if (r.cleanup.killed.length || r.cleanup.stuck.length) lines.push('', `cleanup: killed ${r.cleanup.killed.join(', ') || 'none'}; stuck ${r.cleanup.stuck.join(', ') || 'none'}`);
  lines.push('', `verdict: ${r.verdict} (exit ${r.exitCode})${r.transcript ? `; transcript ${r.transcript}` : ''}`);
  return lines.join('\n');
}
