// Issue 11's reproductions, host side: every bad input gets its exit code and a message
// with no stack trace, before anything boots; the user's files are never rewritten.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, noStack } from './cliHarness.js';
import { parseCommandLine } from '../../src/cli.js';
import { classify, EXIT, InterruptedError, UsageError } from '../../src/exit.js';
import { checkDocument, neutralise } from '../../src/config/limits.js';
import { listProfiles, loadProfile, saveProfile, savedProfileStore } from '../../src/config/profiles.js';
import { builtinScenarios } from '../../src/lab/scenarios/index.js';
import { exportScenario, ScenarioError, validateScenario } from '../../src/lab/scenario.js';
import { markOwned, sweepDeadRuns } from '../../src/vm/sweep.js';
import { paths } from '../../src/paths.js';
import { tempDirs } from './tempDirs.js';

// Every temporary directory goes when the file's tests end (thousands were left in /tmp).
const tmp = tempDirs('daxlab-robust-');

let config: string;
const savedConfig = paths.config;
beforeEach(() => {
  config = tmp();
  paths.config = config;
});
afterEach(() => {
  paths.config = savedConfig;
});

describe('exit codes', () => {
  it('maps each kind of error to one code', () => {
    expect(classify(new UsageError('x')).code).toBe(EXIT.usage);
    expect(classify(new ScenarioError('f', ['p'])).code).toBe(EXIT.cannotTest);
    expect(classify(new InterruptedError('SIGINT')).code).toBe(130);
    expect(classify(Object.assign(new Error('EISDIR'), { code: 'EISDIR', path: '/x' })).code).toBe(EXIT.cannotTest);
    expect(classify(new TypeError('ours')).code).toBe(EXIT.ourBug);
  });

  it.each([['--bogus'], ['run', '--profile'], ['run', 'x', '--seed', '-1'], ['run', 'x', '--seed=-1'], ['replay', 'f', '--speed', 'abc'], ['boot', 'extra'], ['frobnicate']])(
    'usage mistake %j: a usage line, exit 2',
    async (...args) => {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/usage: daxlab/);
      noStack(r.err);
    },
  );

  it('an option\'s value is not taken for the command: daxlab --profile P opens the lab on P', () => {
    expect(parseCommandLine(['--profile', 'default'])).toMatchObject({ command: 'lab', values: { profile: 'default' }, positionals: [] });
    expect(parseCommandLine(['-p', 'sid'])).toMatchObject({ command: 'lab', values: { profile: 'sid' } });
    expect(parseCommandLine(['--profile', 'sid', 'run', 'map-sync'])).toMatchObject({ command: 'run', values: { profile: 'sid' }, positionals: ['map-sync'] });
    expect(parseCommandLine(['run', 'map-sync', '--profile', 'sid'])).toMatchObject({ command: 'run', positionals: ['map-sync'] });
  });

  it('every command has --help', async () => {
    for (const c of ['run', 'boot', 'selftest', 'list', 'replay', 'scenario', 'doctor', 'profiles']) {
      const r = await cli([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`usage: daxlab ${c}`);
    }
  });

  it('replay checks its inputs up front: random bytes, a directory, a missing --report', async () => {
    const dir = tmp();
    const rand = path.join(dir, 'rand');
    fs.writeFileSync(rand, Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)));
    const header = path.join(dir, 't.jsonl');
    fs.writeFileSync(header, '{"dir":"meta","format":"daxlab-transcript","version":1}\n');
    for (const args of [['replay', rand], ['replay', dir], ['replay', header, '--report', path.join(dir, 'nope')]]) {
      const r = await cli(args);
      expect(r.code).toBe(125);
      noStack(r.err);
    }
  });

  it('--record to a missing directory is refused before boot', async () => {
    const r = await cli(['run', 'dma-vs-truncate', '--record', '/nonexistent-daxlab/x.jsonl']);
    expect(r.code).toBe(125);
    expect(r.err).toMatch(/does not exist/);
  });
});

describe('a broken saved-profiles file', () => {
  it.each(['{"profiles":', 'garbage', 'null', '[]', '{"profiles":[1]}', '"x"'])('%s: reported with its path, never rewritten, shipped profiles work', async (text) => {
    const file = path.join(config, 'profiles.json');
    fs.writeFileSync(file, text);
    const store = savedProfileStore(config);
    expect(loadProfile('default', store).name).toBe('default');
    const broken = listProfiles(store).find((e) => 'error' in e && e.location === file);
    expect(broken).toBeDefined();
    const r = await cli(['profiles']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(file);
    const l = await cli(['list']);
    expect(l.code).toBe(0);
    expect(l.err).toContain(file);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    // Saving keeps the broken file beside the new one.
    saveProfile({ name: 'mine', fs: { type: 'ext4' } }, store);
    expect(store.keptBroken && fs.readFileSync(store.keptBroken, 'utf8')).toBe(text);
    expect(loadProfile('mine', store).fs.type).toBe('ext4');
  });
});

describe('one validation pass before boot', () => {
  const base = JSON.parse(exportScenario(builtinScenarios.find((s) => s.id === 'dma-vs-truncate')!)) as {
    title: string;
    actors: Array<{ name: string }>;
    steps: Array<Record<string, unknown> & { do?: Record<string, unknown>; actor?: string }>;
    hangDetector?: unknown;
  };
  const mmapAt = base.steps.findIndex((s) => s.do?.op === 'mmap');
  const openAt = base.steps.findIndex((s) => s.do?.op === 'open');
  const actor = base.steps[mmapAt]!.actor!;
  const mutate = (f: (s: typeof base) => void) => {
    const s = structuredClone(base);
    f(s);
    return s;
  };
  const bad: Array<[string, (s: typeof base) => void, RegExp]> = [
    ['an unknown mmap flag', (s) => (s.steps[mmapAt]!.do!.flags = ['MAP_BOGUS']), /not an mmap flag/],
    ['a length of 999999999999T', (s) => (s.steps[mmapAt]!.do!.length = '999999999999T'), /not a size a run can use/],
    ['a negative hang detector', (s) => (s.hangDetector = { blockedLongerThan: '1s - 5s' }), /negative/],
    ['a 1e15 ms sleep', (s) => s.steps.push({ say: 'x', actor, do: { op: 'sleep', for: 1e15 } }), /longer than/],
    ['a 1e300 waitFor', (s) => s.steps.push({ say: 'x', waitFor: { until: { check: 'no-data-mismatch' }, timeout: 1e300 } }), /longer than/],
    ['../../etc/passwd', (s) => (s.steps[openAt]!.do!.path = '../../etc/passwd'), /leaves the lab/],
    ['/etc/passwd', (s) => (s.steps[openAt]!.do!.path = '/etc/passwd'), /absolute/],
    ['SIGBOGUS', (s) => s.steps.push({ say: 'x', kill: { actor, signal: 'SIGBOGUS' } }), /not a Linux signal/],
    ['a page outside the mapping', (s) => s.steps.push({ say: 'x', actor, do: { op: 'touch', pages: [99999] } }), /outside/],
  ];
  it.each(bad)('%s is refused with its path (exit 125)', async (_, f, message) => {
    expect(() => validateScenario(mutate(f), 'test')).toThrow(message);
    const file = path.join(tmp(), 's.json');
    fs.writeFileSync(file, JSON.stringify(mutate(f)));
    const r = await cli(['run', '--scenario-file', file]);
    expect(r.code).toBe(125);
    expect(r.err).toMatch(message);
    noStack(r.err);
  });

  it('a 100,000-level nested object is refused without a RangeError', async () => {
    const file = path.join(tmp(), 'deep.json');
    const text = JSON.stringify(mutate((s) => (s.steps[0]!.expect = [{ check: 'returns', result: { x: 'DEEP' } }]))).replace('"DEEP"', `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`);
    fs.writeFileSync(file, text);
    const r = await cli(['scenario', 'export', '--scenario-file', file]);
    expect(r.code).toBe(125);
    expect(r.err).toMatch(/nested deeper/);
  });

  it('a UTF-8 BOM is accepted; escape sequences in titles are neutralised', async () => {
    const file = path.join(tmp(), 'bom.json');
    fs.writeFileSync(file, `\ufeff${JSON.stringify(mutate((s) => (s.title = '\u001b[2J\u001b]0;pwned\u0007 title')))}`);
    const r = await cli(['scenario', 'export', '--scenario-file', file]);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('\u001b');
    expect(neutralise('a\u001bb\nc')).toBe('a\u241bb\nc');
  });

  it('profile values: memory 0, bootTimeout 0 and 1e12, a size QEMU would read as MiB', () => {
    for (const p of [{ memory: '0' }, { bootTimeout: 0 }, { bootTimeout: 1e12 }, { memory: 1025 }, { nvdimms: [{ size: '999999999999T' }] }]) {
      const file = path.join(tmp(), 'p.json');
      fs.writeFileSync(file, JSON.stringify({ name: 'p', ...p }));
      expect(() => loadProfile(file)).toThrow(/between|multiple/);
    }
  });

  it('the document walk is iterative and keeps __proto__ a key', () => {
    const r = checkDocument(JSON.parse('{"__proto__":{"x":1},"a":"\\u001b"}'));
    expect(r.problems).toEqual([]);
    expect(Object.keys(r.data as object)).toContain('__proto__');
    expect(({} as { x?: number }).x).toBeUndefined();
  });
});

describe('clean-up that survives kill -9', () => {
  it('sweeps what a dead owner left, keeps what a live one has', () => {
    const runs = tmp();
    const tmpdir = tmp();
    const dead = path.join(runs, 'dead');
    const kept = path.join(runs, 'kept');
    const mine = path.join(runs, 'mine');
    for (const d of [dead, kept, mine]) fs.mkdirSync(d);
    for (const d of [dead, kept]) {
      fs.writeFileSync(path.join(d, 'owner.pid'), '999999999 1\n');
      fs.writeFileSync(path.join(d, 'nvdimm0.img'), '');
    }
    fs.writeFileSync(path.join(kept, 'console.log'), 'boot\n');
    markOwned(mine);
    fs.writeFileSync(path.join(mine, 'nvdimm0.img'), '');
    const sock = path.join(tmpdir, 'daxlab-abcdef');
    fs.mkdirSync(sock);
    fs.writeFileSync(path.join(sock, 'owner.pid'), '999999999 1\n');
    fs.writeFileSync(path.join(sock, 'agent.sock'), '');
    const other = path.join(tmpdir, 'daxlab-bisect-xyz');
    fs.mkdirSync(other);
    const r = sweepDeadRuns(runs, tmpdir);
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.readdirSync(kept)).toEqual(['console.log']);
    expect(fs.existsSync(path.join(mine, 'nvdimm0.img'))).toBe(true);
    expect(fs.existsSync(sock)).toBe(false);
    expect(fs.existsSync(other)).toBe(true);
    expect(r.runDirs).toEqual([dead]);
  });
});

describe('re-verified on 2026-12-02 (robust2)', () => {
  const fixture = path.join(import.meta.dirname, '..', 'fixtures', 'dma-vs-truncate-xfs.jsonl');

  // compare, matrix, bisect and export returned their promise un-awaited inside main's try:
  // whatever they threw was Node's crash (a stack trace, exit 1: "bad" to git bisect run).
  it.each([
    ['export', (f: string) => ['export', '--format', 'perfetto', fixture, '-o', path.join(f, 'x.json')]],
    ['matrix', (f: string) => ['matrix', '--profiles', 'default', '--scenarios', 'dma-vs-truncate', '--emit', 'github-actions', '--out', path.join(f, 'x.yml')]],
  ])('an error inside %s reaches the one exit-code mapping (no crash, no stack)', async (_, args) => {
    const file = path.join(tmp(), 'a-file');
    fs.writeFileSync(file, '');
    const r = await cli(args(file));
    expect(r.code).toBe(125);
    expect(r.err).toContain(file);
    noStack(r.err);
  });

  it("compare checks every side's kernel before the first side fetches its own", async () => {
    const dir = tmp();
    const b = path.join(dir, 'b.json');
    const base = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'profiles', 'default.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(b, JSON.stringify({ ...base, name: 'b', kernel: { source: 'path', bzImage: dir } }));
    const r = await cli(['compare', 'dma-vs-truncate', '--profile', 'default', '--profile', b]);
    expect(r.code).toBe(125);
    expect(r.err).toMatch(/is a directory, not a bzImage/);
    // Nothing of side A's Debian kernel was resolved: no apt, no download (they take seconds).
    expect(r.err).not.toMatch(/\[(kernel|host|image)\]|apt/);
    noStack(r.err);
  });

  it('stdout reaches a slow reader whole before daxlab exits (a compare --json arrived cut at 64 KiB)', async () => {
    const bin = path.join(import.meta.dirname, '..', '..', 'bin', 'daxlab.mjs');
    const fixtures = path.join(import.meta.dirname, '..', 'fixtures');
    const args = ['compare', '--run', path.join(fixtures, 'vmsplice-vs-punch-xfs.jsonl'), '--run', path.join(fixtures, 'compare', 'vmsplice-vs-punch-sid.jsonl'), '--json'];
    const whole = await execa('node', [bin, ...args], { reject: false });
    expect(whole.stdout.length).toBeGreaterThan(65536);
    // The reader waits a second before it reads anything: the pipe fills, daxlab's writes queue.
    const slow = await execa('sh', ['-c', 'node "$@" | (sleep 1; wc -c)', 'sh', bin, ...args], { reject: false });
    expect(Number(slow.stdout.trim())).toBe(Buffer.byteLength(whole.stdout) + 1);
    // A reader that goes away early is not a crash of ours.
    const gone = await execa('sh', ['-c', 'node "$@" | head -c 10 >/dev/null; echo "exit ${PIPESTATUS:-}"', 'sh', bin, ...args], { reject: false });
    noStack(gone.stderr);
    expect(gone.stderr).not.toMatch(/EPIPE/);
  }, 60_000);

  it('export checks its transcript as replay does: random bytes and a directory are 125', async () => {
    const dir = tmp();
    const rand = path.join(dir, 'rand');
    fs.writeFileSync(rand, Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)));
    for (const f of [rand, dir]) {
      const r = await cli(['export', '--format', 'perfetto', f]);
      expect(r.code).toBe(125);
      expect(r.out).toBe('');
      noStack(r.err);
    }
  });

  it('help for every command, and an unknown one is a usage mistake', async () => {
    for (const c of ['compare', 'matrix', 'bisect', 'export']) {
      for (const args of [['help', c], [c, '--help']]) {
        const r = await cli(args);
        expect(r.code).toBe(0);
        expect(r.out).toContain(`usage: daxlab ${c}`);
      }
    }
    const r = await cli(['help', 'frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no command "frobnicate"/);
  });

  it("an action's timeout of 0, or shorter than the step's own sleep, is refused (it made a false hang finding)", () => {
    const scenario = (step: Record<string, unknown>) => ({
      id: 'mine',
      title: 't',
      summary: 's',
      actors: [{ name: 'a' }],
      steps: [{ say: 'x', actor: 'a', ...step }],
    });
    expect(() => validateScenario(scenario({ do: { op: 'sleep', for: '1s' }, timeout: 0 }), 't')).toThrow(/steps\[0\]\.timeout: 0: an action's timeout is at least 100 ms/);
    expect(() => validateScenario(scenario({ do: { op: 'sleep', for: '2s' }, timeout: '1s' }), 't')).toThrow(/not longer than the step's own sleep/);
    expect(() => validateScenario(scenario({ do: { op: 'open', path: 'v', create: true }, timeout: '50ms' }), 't')).toThrow(/at least 100 ms/);
    // What is fine stays fine: a real bound, an async action, a guest quantity.
    expect(validateScenario(scenario({ do: { op: 'sleep', for: '1s' }, timeout: '2s' }), 't').steps).toHaveLength(1);
    expect(validateScenario(scenario({ do: { op: 'sleep', for: '1s' }, async: true, timeout: 0 }), 't').steps).toHaveLength(1);
    expect(validateScenario(scenario({ do: { op: 'sleep', for: '1s' }, timeout: 'lease-break-time + 1s' }), 't').steps).toHaveLength(1);
  });

  it('a signal an expectation waits for is spelled as the agent reports it (else never matched: a false finding)', () => {
    const scenario = (signal: string) => ({
      id: 'mine',
      title: 't',
      summary: 's',
      actors: [{ name: 'a' }],
      steps: [{ say: 'x', actor: 'a', do: { op: 'sleep', for: '1s' }, expect: [{ check: 'signal', actor: 'a', signal, within: '1s' }, { check: 'returns', signal }] }],
    });
    for (const bad of ['IO', 'sigio', '29']) expect(() => validateScenario(scenario(bad), 't')).toThrow(/as the agent reports it/);
    for (const good of ['SIGIO', 'SIGRTMIN+1']) expect(validateScenario(scenario(good), 't').steps).toHaveLength(1);
    // kill takes any spelling: the host sends it.
    const kill = { id: 'k', title: 't', summary: 's', actors: [{ name: 'a' }], steps: [{ say: 'x', kill: { actor: 'a', signal: 'kill' } }] };
    expect(validateScenario(kill, 't').steps).toHaveLength(1);
  });

  it('a QEMU that does not run is could-not-test, not a bug of daxlab', async () => {
    const bin = tmp();
    fs.writeFileSync(path.join(bin, 'qemu-system-x86_64'), '#!/bin/sh\necho "broken install" >&2\nexit 1\n', { mode: 0o755 });
    const savedPath = process.env.PATH;
    const savedCache = paths.cache;
    process.env.PATH = `${bin}${path.delimiter}${savedPath}`;
    paths.cache = tmp();
    try {
      const { qemuVersion } = await import('../../src/vm/accel.js');
      const err = await qemuVersion().then(() => null, (e: unknown) => e);
      expect(classify(err).code).toBe(EXIT.cannotTest);
      expect(String((err as Error).message)).toMatch(/--version failed.*broken install/);
    } finally {
      process.env.PATH = savedPath;
      paths.cache = savedCache;
    }
  });

  it('the TUI starts from any working directory (tsx took the tsconfig of the cwd: "React is not defined")', async () => {
    const cwd = tmp();
    const bin = path.join(import.meta.dirname, '..', '..', 'bin', 'daxlab.mjs');
    // script(1) gives daxlab a terminal; "q" after the profile list has drawn quits it.
    const child = execa('script', ['-qec', `node ${bin}`, '/dev/null'], {
      cwd,
      // TMPDIR too: tsx keeps its compile cache there (tsx-<uid>), and it must go with the test.
      env: { DAXLAB_CONFIG_DIR: tmp(), DAXLAB_STATE_DIR: tmp(), TMPDIR: tmp(), TERM: 'xterm' },
      reject: false,
      timeout: 60_000,
    });
    let seen = '';
    child.stdout!.on('data', (d: Buffer) => {
      // eslint-disable-next-line no-control-regex
      seen += d.toString().replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
      if (seen.includes('daxlab · profiles')) child.stdin!.write('q');
    });
    const r = await child;
    expect(seen).toContain('daxlab · profiles');
    expect(seen).not.toMatch(/React is not defined|internal error/);
    expect(r.exitCode).toBe(0);
  }, 90_000);
});
