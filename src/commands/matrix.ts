// daxlab matrix: every scenario on every profile (and seed), one cell at a time; the grid.
// daxlab matrix merge DIR...: the same grid from cell files made anywhere.
// daxlab matrix --emit github-actions: a workflow that runs one cell per job.
import fs from 'node:fs';
import path from 'node:path';
import { buildGrid, cellBaseName, cellFromFile, gridText, parseCellName, type CellResult } from '../lab/matrix.js';
import { githubActionsWorkflow } from '../lab/workflow.js';
import { paths } from '../paths.js';
import { ensureHost } from '../vm/host.js';
import { listOption, parseCommandArgs, safeName, usageExit, UsageError } from './args.js';
import { consoleProgress } from './output.js';
import { loadProfileOutcome, runOnce } from './runs.js';

export const MATRIX_USAGE = `daxlab matrix --profiles a,b --scenarios x,y [--seeds N] [--json] [--out DIR]
       daxlab matrix merge DIR... [--json]
       daxlab matrix --profiles a,b --scenarios x,y [--seeds N] --emit github-actions [--out FILE]`;

/** The cells of the cell files in these directories (cell+<profile>+<scenario>+<seed>.json). */
export function readCells(dirs: string[]): { cells: CellResult[]; problems: string[] } {
  const cells: CellResult[] = [];
  const problems: string[] = [];
  for (const dir of dirs) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      problems.push(`${dir} is not a directory of cell files`);
      continue;
    }
    for (const name of fs.readdirSync(dir).sort()) {
      const key = name.endsWith('.json') ? parseCellName(name) : null;
      if (!key) continue;
      const file = path.join(dir, name);
      const log = file.replace(/\.json$/, '.log');
      cells.push(cellFromFile(key, fs.readFileSync(file, 'utf8'), fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : undefined));
    }
  }
  return { cells, problems };
}

function seedsOption(text: string | undefined): number[] {
  if (text === undefined) return [1];
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1000) throw new UsageError(`--seeds "${text}" is not a count of seeds (1 to 1000): runs seeds 1..N`);
  return Array.from({ length: Number(text) }, (_, i) => i + 1);
}

function printGrid(cells: CellResult[], json: boolean, order: { profiles?: string[]; scenarios?: string[] }, outDir?: string): number {
  const grid = buildGrid(cells, order);
  const text = gridText(grid);
  if (outDir) {
    fs.writeFileSync(path.join(outDir, 'grid.txt'), text);
    fs.writeFileSync(path.join(outDir, 'grid.json'), `${JSON.stringify(grid, null, 2)}\n`);
  }
  process.stdout.write(json ? `${JSON.stringify(grid, null, 2)}\n` : text);
  return grid.exitCode;
}

export async function matrixCommand(argv: string[]): Promise<number> {
  let args;
  let seeds: number[];
  try {
    args = parseCommandArgs(argv, {
      profiles: { type: 'string', multiple: true },
      scenarios: { type: 'string', multiple: true },
      seeds: { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      emit: { type: 'string' },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    seeds = seedsOption(args.values.seeds);
  } catch (err) {
    if (err instanceof UsageError) return usageExit(MATRIX_USAGE, err.message);
    throw err;
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(`usage: ${MATRIX_USAGE}\n`);
    return 0;
  }
  if (positionals[0] === 'merge') {
    const dirs = positionals.slice(1);
    if (!dirs.length) return usageExit(MATRIX_USAGE, 'name the directories that hold the cell files');
    const { cells, problems } = readCells(dirs);
    for (const p of problems) process.stderr.write(`daxlab: ${p}\n`);
    if (problems.length) return 2;
    if (!cells.length) {
      process.stderr.write(`daxlab: no cell files (cell+<profile>+<scenario>+<seed>.json) in ${dirs.join(', ')}\n`);
      return 125;
    }
    return printGrid(cells, values.json, {});
  }
  if (positionals.length) return usageExit(MATRIX_USAGE, `unexpected argument "${positionals[0]}"`);
  const profiles = listOption(values.profiles);
  const scenarios = listOption(values.scenarios);
  if (!profiles.length || !scenarios.length) return usageExit(MATRIX_USAGE, 'name the profiles (--profiles a,b) and the scenarios (--scenarios x,y)');

  if (values.emit !== undefined) {
    if (values.emit !== 'github-actions') return usageExit(MATRIX_USAGE, `--emit "${values.emit}": the only workflow daxlab writes is github-actions`);
    const workflow = githubActionsWorkflow({ profiles, scenarios, seeds });
    if (values.out) {
      fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
      fs.writeFileSync(values.out, workflow);
      process.stderr.write(`daxlab: wrote ${values.out} (${profiles.length * scenarios.length * seeds.length} cell jobs and a merge job)\n`);
    } else process.stdout.write(workflow);
    return 0;
  }

  // Profiles are checked before anything boots; a broken one makes its cells "could not test".
  const broken = new Map<string, string>();
  for (const p of profiles) {
    const l = loadProfileOutcome(p);
    if ('outcome' in l) {
      broken.set(p, l.outcome.error ?? 'cannot load the profile');
      process.stderr.write(`daxlab: ${l.outcome.error}\n`);
    }
  }
  const outDir = values.out ?? path.join(paths.state, 'matrix', new Date().toISOString().replace(/[:.]/g, '-'));
  fs.mkdirSync(outDir, { recursive: true });
  const progress = consoleProgress({ verbose: values.verbose });
  await ensureHost(progress, { install: true });
  const total = profiles.length * scenarios.length * seeds.length;
  process.stderr.write(`daxlab matrix: ${total} cell(s), one guest after the other; cell files in ${outDir}\n`);
  const cells: CellResult[] = [];
  let n = 0;
  for (const scenario of scenarios)
    for (const profile of profiles)
      for (const seed of seeds) {
        n++;
        const key = { profile: safeName(profile), scenario: safeName(scenario), seed };
        const base = path.join(outDir, cellBaseName(key, safeName));
        const tag = `[cell ${n}/${total}] ${scenario} on ${profile}, seed ${seed}`;
        process.stderr.write(`${tag} ...\n`);
        const began = Date.now();
        const logLines: string[] = [];
        const outcome = broken.has(profile)
          ? { exitCode: 125, report: null, error: broken.get(profile)! }
          : await runOnce({ label: profile, scenario, seed, progress, log: (line) => logLines.push(line), record: base });
        if (!outcome.report) fs.writeFileSync(`${base}.json`, `${JSON.stringify({ exitCode: outcome.exitCode, error: outcome.error ?? 'no report' }, null, 2)}\n`);
        fs.writeFileSync(`${base}.log`, `${logLines.join('\n')}${logLines.length ? '\n' : ''}exit ${outcome.exitCode}\n`);
        const cell = cellFromFile(key, fs.readFileSync(`${base}.json`, 'utf8'));
        cells.push(cell);
        const what = cell.verdict === 'finding' ? `finding: ${cell.findings.join(', ')}` : cell.verdict === 'cannot-test' ? `could not test: ${cell.reason}` : cell.verdict;
        process.stderr.write(`${tag}: ${what} (exit ${cell.exitCode}, ${Math.round((Date.now() - began) / 1000)} s)\n`);
      }
  return printGrid(cells, values.json, { profiles: profiles.map(safeName), scenarios: scenarios.map(safeName) }, outDir);
}
