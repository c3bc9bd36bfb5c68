// The house's layout, read from the source (issue #8): data flows one way, agent ->
// channel -> pure reducer -> screens. lab never imports vm and vm never imports lab (both
// stand on wire and config); the screens reach the guest only through their live
// controller; a check kind is switched on only in its own module (src/lab/checks); no
// source file grows past ~600 lines without saying why at its top.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../src/lab/checks/index.js';

const src = path.resolve(import.meta.dirname, '../../src');

function files(dir: string, ends: RegExp): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p, ends));
    else if (ends.test(e.name)) out.push(p);
  }
  return out;
}

const rel = (p: string) => path.relative(src, p);
/** Every module a TypeScript file imports (or re-exports from), resolved to a path under src. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)) out.push(rel(path.resolve(path.dirname(file), m[1]!)));
  return out;
}

const ts = files(src, /\.tsx?$/);

describe('the layers', () => {
  it('finds the source it reads (a moved tree would make every rule below pass)', () => {
    expect(ts.filter((f) => rel(f).startsWith('lab/')).length).toBeGreaterThan(20);
    expect(ts.filter((f) => rel(f).startsWith('vm/')).length).toBeGreaterThan(10);
    expect(importsOf(path.join(src, 'lab/engine.ts'))).toContain('lab/run/context.js');
  });

  it('lab never imports vm, vm never imports lab', () => {
    const crossing = ts.flatMap((f) => {
      const from = rel(f).split('/')[0];
      const other = from === 'lab' ? 'vm/' : from === 'vm' ? 'lab/' : null;
      return other ? importsOf(f).filter((i) => i.startsWith(other)).map((i) => `${rel(f)} -> ${i}`) : [];
    });
    expect(crossing).toEqual([]);
  });

  it('the screens reach the guest only through the live controller', () => {
    const reaching = ts
      .filter((f) => rel(f).startsWith('screens/') && rel(f) !== 'screens/live.ts')
      .flatMap((f) => importsOf(f).filter((i) => i.startsWith('vm/')).map((i) => `${rel(f)} -> ${i}`));
    expect(reaching).toEqual([]);
    expect(importsOf(path.join(src, 'screens/live.ts')).some((i) => i.startsWith('vm/'))).toBe(true);
  });

  it('a check kind is switched on only in its own module', () => {
    expect(CHECKS.length).toBeGreaterThan(5);
    const switching = ts
      .filter((f) => !rel(f).startsWith('lab/checks/'))
      .flatMap((f) => {
        const text = fs.readFileSync(f, 'utf8');
        const hits = [...text.matchAll(/switch \([\w.]*\.check\)|\.check [!=]== '([\w-]+)'/g)].map((m) => m[0]);
        return hits.map((h) => `${rel(f)}: ${h}`);
      });
    expect(switching).toEqual([]);
  });

  // Files being split by their owners as this is written, by name (each to leave the list).
  const SPLITTING: Record<string, string> = {};

  it('no source file over ~600 lines without a reason at its top ("over 600 lines because ...")', () => {
    const long = files(src, /\.(tsx?|c|h)$/)
      .filter((f) => !(rel(f) in SPLITTING))
      .map((f) => ({ f: rel(f), text: fs.readFileSync(f, 'utf8') }))
      .filter(({ text }) => text.split('\n').length > 620)
      .filter(({ text }) => !/over 600 lines/i.test(text.split('\n').slice(0, 30).join('\n')))
      .map(({ f, text }) => `${f}: ${text.split('\n').length} lines (split it by concern, or say at its top why it is over 600 lines)`);
    expect(long).toEqual([]);
  });
});
