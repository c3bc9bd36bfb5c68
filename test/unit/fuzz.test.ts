// Property-based fuzzing of everything untrusted daxlab reads (issue 11): profiles,
// scenario files, transcripts and agent lines. Whatever the input: no crash, no stack
// trace, the right kind of error (so the right exit code), the user's files unchanged.
// Bounded: a few hundred cases per property, seconds in all.
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';

// Each property stops after 4 s of cases (a pass); the test's own timeout leaves room under load.
vi.setConfig({ testTimeout: 30_000 });
import { classify, EXIT } from '../../src/exit.js';
import { listProfiles, loadProfile, ProfileError, savedProfileStore, validateProfile } from '../../src/config/profiles.js';
import { builtinScenarios } from '../../src/lab/scenarios/index.js';
import { exportScenario, ScenarioError, validateScenario } from '../../src/lab/scenario.js';
import { parseAgentLine, ProtocolError } from '../../src/wire/protocol.js';
import { replayTranscript } from '../../src/wire/transcript.js';
import { checkReplayInputs } from '../../src/inputs.js';
import { parseDuration, parseSize } from '../../src/config/units.js';
import { cli, noStack } from './cliHarness.js';
import { tempDirs } from './tempDirs.js';

// Every temporary directory goes when the file's tests end (thousands were left in /tmp).
const tmp = tempDirs('daxlab-fuzz-');
const runs = (n: number) => ({ numRuns: n, interruptAfterTimeLimit: 4000, seed: Number(process.env.FUZZ_SEED ?? 20261201) });

type Json = unknown;
/** Every path to a value inside a document. */
function paths(doc: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(doc)) doc.forEach((v, i) => paths(v, [...at, i], out));
  else if (doc && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) paths(v, [...at, k], out);
  return out;
}
function setAt(doc: Json, at: (string | number)[], value: Json): Json {
  if (!at.length) return value;
  const copy = structuredClone(doc) as Record<string | number, Json>;
  let cur = copy;
  for (const key of at.slice(0, -1)) cur = cur[key] as Record<string | number, Json>;
  cur[at[at.length - 1]!] = value;
  return copy;
}

/** Values a hostile user would put in: edge numbers, odd strings, wrong types. */
const edgeValues = fc.constantFrom(-1, 0, 50, 1e12, 1e15, 1e300, -0.5, 2 ** 53, 2 ** 31 + 1, 2 ** 31 + 512, '2049K', '999999999999T', '1025M', '-5s', '0s - 5s', '1e300ms', '99999m', 'SIGBOGUS', 'SIGRTMAX+5', 'sigio', 'KILL', '9', 'MAP_BOGUS', '../../etc/passwd', '/etc/passwd', '$tmp/../x', '\u001b[2J', '', null, [], {});
const nasty = fc.oneof(fc.jsonValue({ maxDepth: 3 }), edgeValues, fc.string({ unit: 'binary', maxLength: 40 }));

/** Keys whose values the value checks judge. */
const HOT_KEYS = new Set(['signal', 'path', 'file', 'device', 'for', 'within', 'timeout', 'notBefore', 'idleWithin', 'blockedLongerThan', 'completion', 'length', 'size', 'offset', 'bootTimeout', 'memory']);

/** Keys a mutation may add: ones the value checks look at, and one no schema has. */
const ADDED_KEYS = ['timeout', 'signal', 'path', 'for', 'bootTimeout', 'memory', 'bogusKey'];

// ---------------------------------------------------------------------------------------
// The oracle: what issue 11 says must never pass validation, written apart from
// src/config/limits.ts (a check removed there must fail here, not be mirrored).
const DURATION_KEYS = ['for', 'within', 'timeout', 'notBefore', 'idleWithin', 'blockedLongerThan', 'completion'];
const isSignal = (v: string) => {
  const name = v.toUpperCase().startsWith('SIG') ? v.toUpperCase() : `SIG${v.toUpperCase()}`;
  return name in os.constants.signals || /^SIGRTM(IN|AX)([+-]\d+)?$/.test(name) || (/^\d+$/.test(v) && +v >= 1 && +v <= 64);
};
/** Why a validated scenario should have been refused (its first such value), or null. */
function shouldHaveBeenRefused(doc: Json): string | null {
  let why: string | null = null;
  const walk = (v: Json, key: string | number | null, parentKey: string | number | null, at: string): void => {
    if (why) return;
    if (typeof v === 'string') {
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(v)) why = `${at}: a control character reaches the terminal`;
      else if ((key === 'path' || key === 'file' || key === 'device') && v !== '$devdax' && v !== '$nullb' && (v.replace(/^\$tmp\//, '').startsWith('/') || v.split('/').includes('..'))) why = `${at}: ${v} escapes the lab`;
      else if (key === 'signal' && !isSignal(v)) why = `${at}: ${v} is no signal`;
      else if (key === 'signal' && /\.(expect|until)/.test(at) && !(v in os.constants.signals || /^SIGRTM(IN|AX)([+-]\d+)?$/.test(v))) why = `${at}: ${v} is not how the agent reports a signal`;
      else if (parentKey === 'flags' && !/^MAP_[A-Z_]+$|^(0x[0-9a-f]+|\d+)$/i.test(v)) why = `${at}: ${v} is no mmap flag`;
    } else if (typeof v === 'number') {
      if (typeof key === 'string' && DURATION_KEYS.includes(key) && !(v >= 0 && v <= 3_600_000)) why = `${at}: ${v} ms is not a duration a run can wait`;
      if ((key === 'length' || key === 'size' || key === 'offset') && !(v >= 0 && v <= 2 ** 40)) why = `${at}: ${v} bytes`;
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, i, key, `${at}[${i}]`));
    // A returns check's result and a where clause are free-form fields of the agent's answer.
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (k !== 'result' && k !== 'where') walk(x, k, key, `${at}.${k}`);
  };
  walk(doc, null, null, '');
  const steps = (doc as { steps?: Array<{ timeout?: unknown; async?: boolean; do?: unknown }> }).steps ?? [];
  steps.forEach((st, i) => {
    if (!why && st.do && !st.async && typeof st.timeout === 'number' && st.timeout < 100) why = `steps[${i}].timeout: ${st.timeout} ms counts the round trip as a hang`;
  });
  return why;
}

/** A document with one value replaced, or a key dropped, or a key added. */
function mutated(base: Json): fc.Arbitrary<Json> {
  const all = paths(base);
  // Half the mutations hit a value the value checks judge (a signal, a path, a duration, a
  // size, an mmap flag): uniform over a few hundred paths, they were almost never hit, and
  // a check removed from src/config/limits.ts went unnoticed.
  const hot = all.map((at, i) => [at, i] as const).filter(([at]) => HOT_KEYS.has(String(at[at.length - 1])) || at[at.length - 2] === 'flags').map(([, i]) => i);
  const index = hot.length ? fc.oneof(fc.nat(all.length - 1), fc.constantFrom(...hot)) : fc.nat(all.length - 1);
  return fc.tuple(index, nasty, edgeValues, fc.boolean(), fc.nat(2)).map(([i, anyValue, edge, preferEdge, how]) => {
    const at = all[i]!;
    // A judged value gets the edge values more often than arbitrary JSON.
    const value = hot.includes(i) && preferEdge ? edge : anyValue;
    if (how === 1 && at.length) {
      const parent = setAt(base, [], base) as Json;
      const copy = structuredClone(parent) as Record<string | number, Json>;
      let cur = copy;
      for (const key of at.slice(0, -1)) cur = cur[key] as Record<string | number, Json>;
      if (Array.isArray(cur)) cur.splice(Number(at[at.length - 1]), 1);
      else delete cur[at[at.length - 1]!];
      return copy;
    }
    if (how === 2) {
      const v = (at.length ? at.slice(0, -1) : []).reduce<Json>((d, k) => (d as Record<string | number, Json>)[k], base);
      // A key the schema knows (so the value reaches the value checks), or one it does not.
      if (v && typeof v === 'object' && !Array.isArray(v)) return setAt(base, [...at.slice(0, -1), ADDED_KEYS[i % ADDED_KEYS.length]!], value);
    }
    return setAt(base, at, value);
  });
}

describe('fuzz: profiles', () => {
  const shipped = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../profiles/default.json'), 'utf8')) as Json;
  // Every key a profile has (the defaults filled in, a scenario of its own): each can be mutated.
  const full = { ...(validateProfile(shipped, 'default') as object), defaultScenario: 'x', scenarios: [JSON.parse(exportScenario(builtinScenarios[0]!))] } as Json;
  const bare = { ...(full as object), scenarios: [] } as Json;
  // The values QEMU and Node's timers are given, straight from the edge values.
  const sized = fc
    .tuple(fc.constantFrom('memory', 'bootTimeout', 'nvdimm'), fc.oneof(edgeValues, fc.integer({ min: 2 ** 28, max: 2 ** 34 }), fc.constantFrom(1e12, 2 ** 31, '4000000s')))
    .map(([key, value]) => (key === 'nvdimm' ? { ...(bare as object), nvdimms: [{ size: value, mode: 'fsdax' }] } : { ...(bare as object), [key]: value }) as Json);
  const pathKernel = { ...(full as object), kernel: { source: 'path', bzImage: '/boot/vmlinuz', modules: '/lib/modules/x', config: '/boot/config' } } as Json;
  it('a mutated or arbitrary profile is valid or a ProfileError (exit 125), never another error', () => {
    fc.assert(
      // `bare` too: in `full` the scenario's hundreds of paths leave the profile's own few
      // (memory, bootTimeout, nvdimms) almost never mutated.
      fc.property(fc.oneof(mutated(shipped), mutated(bare), sized, mutated(full), mutated(pathKernel), fc.jsonValue({ maxDepth: 4 })), (data) => {
        try {
          const p = validateProfile(data, 'fuzz');
          const why = shouldHaveBeenRefused(p.scenarios);
          if (why) throw new Error(`validated, yet ${why}`);
          // QEMU is given whole MiB, and a timer Node can hold.
          for (const size of [p.memory, ...p.nvdimms.map((n) => n.size)]) expect(parseSize(size) % 2 ** 20).toBe(0);
          expect(parseDuration(p.bootTimeout)).toBeGreaterThanOrEqual(1000);
          expect(parseDuration(p.bootTimeout)).toBeLessThan(2 ** 31);
        } catch (err) {
          if ((err as Error).message.startsWith('validated, yet') || (err as Error).name === 'AssertionError') throw err;
          expect(err).toBeInstanceOf(ProfileError);
          expect(classify(err).code).toBe(EXIT.cannotTest);
        }
      }),
      runs(300),
    );
  });

  it('whatever profiles.json holds, reading it never changes it and the shipped profiles load', () => {
    const dir = tmp();
    const file = path.join(dir, 'profiles.json');
    const content = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.dictionary(fc.string({ maxLength: 8 }), mutated(shipped), { maxKeys: 3 }).map((p) => JSON.stringify({ profiles: p })),
    );
    fc.assert(
      fc.property(content, (text) => {
        fs.writeFileSync(file, text);
        const store = savedProfileStore(dir);
        listProfiles(store);
        expect(loadProfile('ext4', store).name).toBe('ext4');
        expect(fs.readFileSync(file, 'utf8')).toBe(text);
      }),
      runs(200),
    );
  });
});

describe('fuzz: scenario files', () => {
  // Each synchronous action with its timeout written out (the default, 30s), so that the
  // timeout is there to mutate.
  const bases = builtinScenarios.map((s) => {
    const doc = JSON.parse(exportScenario(s)) as { steps: Array<{ do?: unknown; async?: boolean; timeout?: unknown }> };
    for (const st of doc.steps) if (st.do && !st.async) st.timeout ??= '30s';
    return doc as Json;
  });
  it('a mutated built-in is valid (and exports) or a ScenarioError with paths (exit 125)', () => {
    fc.assert(
      fc.property(fc.nat(bases.length - 1).chain((i) => mutated(bases[i]!)), (data) => {
        try {
          const s = validateScenario(data, 'fuzz');
          const why = shouldHaveBeenRefused(s);
          if (why) throw new Error(`validated, yet ${why}`);
        } catch (err) {
          if ((err as Error).message.startsWith('validated, yet')) throw err;
          expect(err).toBeInstanceOf(ScenarioError);
          expect(classify(err).code).toBe(EXIT.cannotTest);
        }
      }),
      runs(400),
    );
  });

  it('through the command line: exit 0 or 125, no stack trace, the file unchanged', async () => {
    const dir = tmp();
    const file = path.join(dir, 'scenario.json');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.nat(bases.length - 1).chain((i) => mutated(bases[i]!)).map((d) => JSON.stringify(d)),
          fc.string({ unit: 'binary', maxLength: 300 }),
        ),
        async (text) => {
          fs.writeFileSync(file, text);
          const r = await cli(['scenario', 'export', '--scenario-file', file]);
          expect([0, 125]).toContain(r.code);
          noStack(r.err);
          expect(fs.readFileSync(file, 'utf8')).toBe(text);
        },
      ),
      runs(60),
    );
  });
});

describe('fuzz: transcripts and agent lines', () => {
  it('an agent line is a message or a ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
          fc.record({ kind: fc.constantFrom('ready', 'reply', 'action', 'snapshot', 'event', 'signal', 'actor-exit'), t: nasty, id: nasty, ok: fc.boolean() }).map((v) => JSON.stringify(v)),
        ),
        (line) => {
          try {
            parseAgentLine(line);
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
          }
        },
      ),
      runs(500),
    );
  });

  it('a transcript with any lines after its header replays with problems, never a throw; random files are refused up front', () => {
    const dir = tmp();
    const file = path.join(dir, 'transcript.jsonl');
    const header = '{"dir":"meta","format":"daxlab-transcript","version":1,"wall":"2026-12-01T00:00:00.000Z"}\n';
    const line = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 120 }).map((s) => s.replace(/\n/g, ' ')),
      fc.record({ dir: fc.constantFrom('agent', 'host', 'meta', 'x'), ms: nasty, line: fc.oneof(fc.string({ maxLength: 60 }), nasty) }).map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(fc.boolean(), fc.array(line, { maxLength: 20 }), fc.boolean(), (withHeader, lines, cut) => {
        const text = (withHeader ? header : '') + lines.join('\n') + (cut ? '' : '\n');
        fs.writeFileSync(file, text);
        let refused = false;
        try {
          checkReplayInputs(file, undefined);
        } catch (err) {
          refused = true;
          expect(classify(err).code).toBe(EXIT.cannotTest);
        }
        if (!refused) replayTranscript(file);
        expect(fs.readFileSync(file, 'utf8')).toBe(text);
      }),
      runs(300),
    );
  });
});
