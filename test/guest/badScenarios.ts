// Scenario files with a mistake only the guest's kernel can show (every value passes the
// checks before boot): the run must be "could not test" (125) with the mistake named,
// never a finding and never silently "held". Used by the kill trials and the soak.
import type { ScenarioInput } from '../../src/lab/scenario.js';

const base = (id: string, steps: ScenarioInput['steps'], actors = ['a']): ScenarioInput => ({
  id,
  title: `a mistake: ${id}`,
  summary: 'A scenario whose request the kernel rightly refuses.',
  actors: actors.map((name) => ({ name })),
  steps,
});

export const BAD_SCENARIOS: Record<string, { scenario: ScenarioInput; says: RegExp }> = {
  // A file the scenario never created: open without create.
  'missing-file': {
    scenario: base('missing-file', [
      { id: 'open', actor: 'a', do: { op: 'open', path: 'never-made' }, say: 'open a file nobody created' },
      { id: 'map', actor: 'a', do: { op: 'mmap', length: '4K', flags: ['MAP_SHARED'] }, say: 'map it', expect: [{ check: 'returns', ok: true }] },
    ]),
    says: /the scenario is wrong: step 1 \(open\): a's open failed: open failed with ENOENT/,
  },
  // A shared writable mapping of a file opened read-only.
  'readonly-map': {
    scenario: base('readonly-map', [
      { id: 'make', actor: 'a', do: { op: 'open', path: 'f', create: true, size: '16K' }, say: 'make the file' },
      { id: 'reopen', actor: 'a', do: { op: 'open', path: 'f', readonly: true }, say: 'open it read-only' },
      { id: 'map', actor: 'a', do: { op: 'mmap', length: '16K', flags: ['MAP_SHARED'], prot: ['PROT_READ', 'PROT_WRITE'] }, say: 'map it writable', expect: [{ check: 'returns', ok: true }] },
    ]),
    says: /the scenario is wrong: step 3 \(map\): a's mmap failed: mmap failed with EACCES/,
  },
  // A race on the device-dax character device: it cannot be truncated or punched.
  'race-on-devdax': {
    scenario: {
      ...base(
        'race-on-devdax',
        [{ id: 'race', say: 'race on a device', race: { file: '$devdax', pages: 8, rounds: 4, writers: ['w'], mutator: 'm', mutations: ['truncate', 'punch'] }, expect: [{ check: 'no-data-mismatch' }] }],
        ['w', 'm'],
      ),
      needs: { devdax: 'required' },
    },
    says: /the scenario is wrong: step 1 \(race\)/,
  },
  // A race that races nothing with the default seed (its first truncate empties the file).
  'dull-race': {
    scenario: base(
      'dull-race',
      [{ id: 'race', say: 'a race with nothing to race', race: { file: 'f', pages: 8, rounds: 5, writers: ['w'], mutator: 'm', mutations: ['truncate'], pagesPerOp: 2 }, expect: [{ check: 'no-data-mismatch' }] }],
      ['w', 'm'],
    ),
    says: /the race raced nothing/,
  },
};
