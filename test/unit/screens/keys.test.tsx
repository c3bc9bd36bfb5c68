// The key registry: one table of key, context, handler and description drives the key
// presses, the key bar and the help overlay; nothing else in the screens reads a key.
import fs from 'node:fs';
import path from 'node:path';
import type { Key } from 'ink';
import { afterEach, describe, expect, it } from 'vitest';
import { CompareController } from '../../../src/screens/compare.js';
import { barHints, conflicts, contextStack, helpLines, match, pressesOf, type Binding } from '../../../src/screens/keys.js';
import { KeyRegistry } from '../../../src/screens/keymap.js';
import { kernelEra, kernelSource } from '../../../src/screens/profileKernel.js';
import type { Route } from '../../../src/screens/App.js';
import { delay, FakeController, fixture, KEY, renderApp, replayed } from './harness.js';

const NO_KEY: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false,
  capsLock: false, numLock: false,
} as Key;
const k = (patch: Partial<Key> = {}): Key => ({ ...NO_KEY, ...patch });

let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());

describe('the table (pure)', () => {
  const ran: string[] = [];
  const rows: Binding[] = [
    { context: 'live', keys: ['j'], bar: 'down', help: 'moves down', run: () => ran.push('j') },
    { context: 'live', keys: ['/'], bar: 'filter', help: 'filters', takesText: true, run: ({ rest }) => ran.push(`/${rest}`) },
    { context: 'live.filter', keys: ['enter'], bar: 'apply', help: 'applies', run: () => ran.push('apply') },
    { context: 'live.filter', keys: ['text'], help: 'is typed in', run: ({ input }) => ran.push(`text ${input}`) },
    { context: 'global', keys: ['q'], bar: 'quit', help: 'quits', run: () => ran.push('quit') },
    { context: 'global', keys: ['x'], help: 'never', when: false, run: () => ran.push('x') },
  ];
  const press = (mode: string | null, input: string, key = k()) => match(rows, contextStack('live', mode), input, key)?.binding.run(match(rows, contextStack('live', mode), input, key)!.press);

  it('a mode takes every key; without one the screen rows come before the global ones', () => {
    ran.length = 0;
    press(null, 'j');
    press(null, 'q');
    press('filter', 'q');
    press('filter', '', k({ return: true }));
    press(null, 'x');
    expect(ran).toEqual(['j', 'quit', 'text q', 'apply']);
  });

  it('keys that come in one read are presses of their own: a held key, Enter twice, "/" and the text after it', () => {
    ran.length = 0;
    for (const p of pressesOf('jjj', k())) press(null, p.input, p.key);
    expect(ran).toEqual(['j', 'j', 'j']);
    expect(pressesOf('\r\r', k({ return: true })).map((p) => p.key.return)).toEqual([true, true]);
    expect(pressesOf('/ab\r', k()).map((p) => p.input || 'enter')).toEqual(['/', 'a', 'b', 'enter']);
    // Text that is not plain ASCII stays whole: a takesText key gets what follows it.
    expect(pressesOf('/é', k())).toHaveLength(1);
    press(null, '/é');
    expect(ran).toEqual(['j', 'j', 'j', '/é']);
  });

  it('the key bar and the help come from the same rows, in table order', () => {
    expect(barHints(rows, contextStack('live', null))).toEqual([['j', 'down'], ['/', 'filter'], ['q', 'quit']]);
    expect(barHints(rows, contextStack('live', 'filter'))).toEqual([['enter', 'apply']]);
    const help = helpLines(rows, 'live');
    expect(help).toContain('Keys: j moves down · / filters.');
    expect(help).toContain('Filtering events: enter applies · text is typed in.');
    expect(help.join('\n')).not.toContain('never');
  });

  it('finds two rows of one context that claim the same key', () => {
    expect(conflicts(rows)).toEqual([]);
    expect(conflicts([...rows, { context: 'live', keys: ['j'], help: 'other', run() {} }])).toEqual(['live j: "moves down" and "other"']);
  });
});

const screensDir = path.resolve(import.meta.dirname, '../../../src/screens');
const sources = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [path.join(dir, e.name)] : []));

describe('every screen', () => {
  it('reads keys only through the registry: no key compared, no hint list, no second useInput', () => {
    const offenders: string[] = [];
    for (const file of sources(screensDir)) {
      const name = path.relative(screensDir, file);
      if (name === 'keys.ts' || name === 'keymap.tsx') continue;
      const text = fs.readFileSync(file, 'utf8');
      for (const re of [/\binput\s*===/, /\bkey\.(return|escape|tab|upArrow|downArrow|pageUp|pageDown|ctrl)\b/, /\buseInput\(/, /KeyHint\[\]\s*=/, /GLOBAL_KEYS/, /<KeyBar\s+keys=/])
        if (re.test(text)) offenders.push(`${name}: ${re}`);
    }
    expect(offenders).toEqual([]);
  });

  const run = { profile: 'default', status: 'ready' as const, stages: [], console: [] };
  const saved = { compare: () => new CompareController({ sides: [{ kind: 'run', file: fixture('vmsplice-vs-punch-xfs.jsonl') }, { kind: 'run', file: fixture('vmsplice-vs-punch-xfs.jsonl') }] }) };
  const cases: Array<[Route, () => FakeController | ReturnType<typeof replayed>, { compare?: () => CompareController }?]> = [
    ['profiles', () => new FakeController()],
    ['boot', () => new FakeController({ boot: { ...run, status: 'failed', error: 'boot watchdog' } })],
    ['scenarios', () => new FakeController({ boot: run })],
    ['live', () => replayed(fixture('vmsplice-vs-punch-xfs.jsonl'))],
    ['guided', () => replayed(fixture('vmsplice-vs-punch-xfs.jsonl'))],
    ['report', () => replayed(fixture('dma-vs-truncate-xfs.jsonl'))],
    ['compare', () => new FakeController(), saved],
    ['compareReport', () => new FakeController(), saved],
  ];
  it.each(cases)('%s: the bar shows the rows in force, the help lists every row once, no key is claimed twice', async (route, make, extra) => {
    const registry = new KeyRegistry();
    const app = renderApp(make(), route, registry, extra?.compare ? { compare: extra.compare() } : {});
    cleanup = app.unmount;
    await delay();
    const rows = registry.rows();
    expect(registry.current?.screen()).toBe(route);
    expect(conflicts(rows)).toEqual([]);
    // The bar is the rows' hints in table order, cut at the terminal's width.
    const bar = app.screen().split('\n').pop()!.replace(/…$/, '');
    const hints = barHints(rows, contextStack(route, null));
    expect(hints.map(([key, label]) => ` ${key}  ${label}  `).join('').startsWith(bar)).toBe(true);
    expect(bar.length).toBeGreaterThan(20);
    await app.press('?');
    const help = app.screen().replace(/[│╭╮╰╯─]/g, ' ').replace(/\s+/g, ' ');
    expect(help).toContain(`Help — ${route}`);
    for (const b of rows.filter((r) => r.when !== false && (r.context === route || r.context === 'global'))) expect(help).toContain(`${b.show ?? b.keys[0]} ${b.help}`);
    await app.press('x');
    expect(app.screen()).not.toContain('Help —');
  });
});

describe('focus', () => {
  it('tab and shift-tab move the focus between the dashboard panels; esc in the filter keeps the events panel focused', async () => {
    const app = renderApp(replayed(fixture('selftest-xfs.jsonl')), 'live');
    cleanup = app.unmount;
    await delay();
    expect(app.screen()).toContain('▶ Pages');
    await app.press(KEY.tab);
    expect(app.screen()).toContain('▶ Actors');
    expect(app.screen()).not.toContain('▶ Pages');
    await app.press('\u001B[Z');
    expect(app.screen()).toContain('▶ Pages');
    await app.press('/', 'x', KEY.esc);
    expect(app.screen()).toContain('▶ Events');
    expect(app.screen()).toContain('daxlab · dashboard');
  });
});

describe('the kernel and era of a profile', () => {
  it('names the source and the era the profile states, or says it is unknown until booted', () => {
    expect(kernelSource({ source: 'debian', package: 'linux-image-amd64' })).toBe('debian linux-image-amd64 (bookworm)');
    expect(kernelEra({ source: 'debian', package: 'linux-image-amd64' })).toBe('6.1');
    expect(kernelEra({ source: 'debian', package: 'linux-image-amd64', suite: 'bookworm-backports' })).toBe('6.12');
    expect(kernelEra({ source: 'debian', package: 'linux-image-amd64', suite: 'sid' })).toBe('newest in sid: unknown until booted');
    expect(kernelEra({ source: 'debian', package: 'linux-image-7.2.13+deb14-amd64', suite: 'sid' })).toBe('7.2');
    expect(kernelEra({ source: 'path', bzImage: '/boot/vmlinuz', modules: '/work/k/lib/modules/6.12.95+deb12-amd64/' })).toBe('6.12');
    expect(kernelEra({ source: 'path', bzImage: '/x/bzImage' })).toBe('unknown until booted');
    expect(kernelEra({ source: 'tree', dir: '~/linux' })).toBe('unknown until booted');
    expect(kernelEra({ source: 'debian', suite: 'sid' }, '7.2.13+deb14-amd64')).toBe('7.2 (booted 7.2.13+deb14-amd64)');
  });

  it('the Profiles screen shows each profile with its kernel and era', async () => {
    const app = renderApp(new FakeController(), 'profiles');
    cleanup = app.unmount;
    await delay();
    expect(app.screen()).toMatch(/default .*\n\s+kernel debian linux-image-amd64 \(bookworm\) · era 6\.1/);
  });
});
