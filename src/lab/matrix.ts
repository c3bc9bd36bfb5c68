// A matrix of runs: scenarios x profiles (x seeds), one cell per run. Pure: cells are
// read from the files a cell leaves (`daxlab run --json` output, named by its cell), so
// the same grid comes out of `daxlab matrix` on one machine and of `daxlab matrix merge`
// over files made anywhere (a CI job per cell).
export type CellKey = { profile: string; scenario: string; seed: number };

export type CellResult = CellKey & {
  /** held: every expectation held; finding; cannot-test; bug: daxlab failed. */
  verdict: 'held' | 'finding' | 'cannot-test' | 'bug';
  exitCode: number;
  /** The expectations that were violated (the finding's names). */
  findings: string[];
  /** Why it could not test, or what failed. */
  reason: string | null;
  release: string | null;
};

const SEP = '+';

/** The base name (no extension) of a cell's files: cell+<profile>+<scenario>+<seed>. */
export function cellBaseName(key: CellKey, safe: (s: string) => string): string {
  return ['cell', safe(key.profile), safe(key.scenario), String(key.seed)].join(SEP);
}

/** The cell a file name stands for, or null when it is not a cell file. */
export function parseCellName(file: string): CellKey | null {
  const base = file.split('/').pop()!.replace(/\.json$/, '');
  const parts = base.split(SEP);
  if (parts.length !== 4 || parts[0] !== 'cell' || !/^\d+$/.test(parts[3]!)) return null;
  return { profile: parts[1]!, scenario: parts[2]!, seed: Number(parts[3]) };
}

function verdictOf(exitCode: number): CellResult['verdict'] {
  return exitCode === 0 ? 'held' : exitCode === 1 ? 'finding' : exitCode === 125 ? 'cannot-test' : 'bug';
}

/**
 * A cell from what its file holds: the report `daxlab run --json` printed, an error
 * record `{exitCode, error}` the matrix wrote when there was no report, or nothing (the
 * run died before printing; `log` is what it said on stderr, if kept).
 */
export function cellFromFile(key: CellKey, text: string, log?: string): CellResult {
  let data: Record<string, unknown> | null = null;
  try {
    data = text.trim() ? (JSON.parse(text) as Record<string, unknown>) : null;
  } catch {
    data = null;
  }
  const lastLines = (log ?? '').trim().split('\n').slice(-3).join(' / ') || null;
  if (!data || typeof data.exitCode !== 'number') {
    const exit = /exit (\d+)\s*$/.exec(log ?? '');
    const exitCode = exit ? Number(exit[1]) : 125;
    return { ...key, verdict: verdictOf(exitCode === 0 || exitCode === 1 ? 125 : exitCode), exitCode, findings: [], reason: text.trim() ? 'the cell file is not a report' : lastLines ?? 'the run printed no report', release: null };
  }
  const exitCode = data.exitCode;
  const findings = Array.isArray(data.findings) ? data.findings.map((f) => String((f as { expectation?: unknown }).expectation ?? '?')) : [];
  const kernel = data.kernel as { release?: unknown } | undefined;
  const reason = typeof data.error === 'string' ? data.error : typeof data.cannotTest === 'string' ? data.cannotTest : null;
  return { ...key, verdict: verdictOf(exitCode), exitCode, findings, reason, release: typeof kernel?.release === 'string' ? kernel.release : null };
}

export type Grid = {
  profiles: string[];
  scenarios: string[];
  seeds: number[];
  cells: CellResult[];
  /** scenario -> profile -> what the cells of that pair say, in a few words. */
  summary: Record<string, Record<string, string>>;
  exitCode: 0 | 1 | 3 | 125;
};

const ORDER = (xs: string[]) => [...new Set(xs)];
/** Rows and columns in one order whoever builds the grid (a run, or a merge of files in any order). */
const SORTED = (xs: string[]) => ORDER(xs).sort();

/** What one (scenario, profile) pair's cells say: "held", "finding: truncate-woken", "held 2/3, finding 1/3: x". */
export function pairSummary(cells: CellResult[]): string {
  if (!cells.length) return 'not run';
  const word = (c: CellResult) => (c.verdict === 'finding' ? `finding: ${ORDER(c.findings).join(', ') || '?'}` : c.verdict === 'cannot-test' ? 'could not test' : c.verdict === 'bug' ? 'daxlab bug' : 'held');
  const counts = new Map<string, number>();
  for (const c of cells) counts.set(word(c), (counts.get(word(c)) ?? 0) + 1);
  if (counts.size === 1) return [...counts.keys()][0]!;
  return [...counts].map(([w, n]) => `${w.replace(/:.*/, '')} ${n}/${cells.length}${w.includes(':') ? w.slice(w.indexOf(':')) : ''}`).join(', ');
}

/** The grid of cells: profiles and scenarios sorted by name; `order` adds pairs that have no cell ("not run"). */
export function buildGrid(cells: CellResult[], order: { profiles?: string[]; scenarios?: string[] } = {}): Grid {
  const profiles = SORTED([...(order.profiles ?? []), ...cells.map((c) => c.profile)]);
  const scenarios = SORTED([...(order.scenarios ?? []), ...cells.map((c) => c.scenario)]);
  const seeds = [...new Set(cells.map((c) => c.seed))].sort((a, b) => a - b);
  const sorted = [...cells].sort((x, y) => scenarios.indexOf(x.scenario) - scenarios.indexOf(y.scenario) || profiles.indexOf(x.profile) - profiles.indexOf(y.profile) || x.seed - y.seed);
  const summary: Grid['summary'] = {};
  for (const s of scenarios) {
    summary[s] = {};
    for (const p of profiles) summary[s]![p] = pairSummary(sorted.filter((c) => c.scenario === s && c.profile === p));
  }
  const has = (v: CellResult['verdict']) => cells.some((c) => c.verdict === v);
  const exitCode = has('bug') ? 3 : has('finding') ? 1 : has('cannot-test') || Object.values(summary).some((r) => Object.values(r).includes('not run')) ? 125 : 0;
  return { profiles, scenarios, seeds, cells: sorted, summary, exitCode };
}

/** The grid as text: a row per scenario, a column per profile. */
export function gridText(g: Grid): string {
  const head = ['', ...g.profiles];
  const rows = g.scenarios.map((s) => [s, ...g.profiles.map((p) => g.summary[s]![p]!)]);
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [`matrix: ${g.scenarios.length} scenario(s) x ${g.profiles.length} profile(s), seed(s) ${g.seeds.join(', ') || '-'}`, '', line(head), ...rows.map(line)];
  const reasons = g.cells.filter((c) => c.verdict === 'cannot-test' || c.verdict === 'bug');
  if (reasons.length) {
    out.push('', 'could not test / failed:');
    for (const c of reasons) out.push(`  ${c.scenario} on ${c.profile} (seed ${c.seed}): ${c.reason ?? 'no reason given'}`);
  }
  const releases = g.profiles.map((p) => `${p}: ${[...new Set(g.cells.filter((c) => c.profile === p && c.release).map((c) => c.release))].join(', ') || '?'}`);
  out.push('', `kernels: ${releases.join('; ')}`, `exit ${g.exitCode}`);
  return `${out.join('\n')}\n`;
}
