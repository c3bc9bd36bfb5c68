// Property-based fuzzing of everything untrusted daxlab reads (issue 11): profiles,
// scenario files, transcripts and agent lines. Whatever the input: no crash, no stack
// trace, the right kind of error (so the right exit code), the user's files unchanged.
// Bounded: a few hundred cases per property, seconds in all.
import fc from 'fast-check';
import fs from 'node:fs';
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
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(-1, 0, 1e15, 1e300, -0.5, 2 ** 53, '999999999999T', '-5s', '0s - 5s', '1e300ms', 'SIGBOGUS', '../../etc/passwd', '/etc/passwd', '\u001b[2J', '', null, [], {}),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** A document with one value replaced, or a key dropped, or an unknown key added. */
function mutated(base: Json): fc.Arbitrary<Json> {
  const all = paths(base);
  return fc.tuple(fc.nat(all.length - 1), nasty, fc.nat(2)).map(([i, value, how]) => {
    const at = all[i]!;
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
      if (v && typeof v === 'object' && !Array.isArray(v)) return setAt(base, [...at.slice(0, -1), 'bogusKey'], value);
    }
    return setAt(base, at, value);
  });
}

describe('fuzz: profiles', () => {
  const shipped = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../profiles/default.json'), 'utf8')) as Json;
  it('a mutated or arbitrary profile is valid or a ProfileError (exit 125), never another error', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(shipped), fc.jsonValue({ maxDepth: 4 })), (data) => {
        try {
          validateProfile(data, 'fuzz');
        } catch (err) {
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
  const bases = builtinScenarios.map((s) => JSON.parse(exportScenario(s)) as Json);
  it('a mutated built-in is valid (and exports) or a ScenarioError with paths (exit 125)', () => {
    fc.assert(
      fc.property(fc.nat(bases.length - 1).chain((i) => mutated(bases[i]!)), (data) => {
        try {
          const s = validateScenario(data, 'fuzz');
          expect(exportScenario(s)).not.toMatch(/\u001b/);
        } catch (err) {
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
