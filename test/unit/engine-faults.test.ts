// Issue 11, engine side: a run may only say "held" (0) or "finding" (1) about what it
// exercised. A race that raced nothing, and an action refused because the scenario asked
// for something wrong, are "could not test" (125), visible in the log and the report;
// the kernel's own refusals stay the expectations' to judge. On a fake guest (fakeGuest.ts).
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/lab/engine.js';
import { raceSchema, validateScenario, type ScenarioInput } from '../../src/lab/scenario.js';
import { initialShadow, planRound, prng } from '../../src/lab/race.js';
import { FakeGuest, fakeTarget, type Override } from './fakeGuest.js';

const scenario = (steps: ScenarioInput['steps'], actors = ['a', 'b']): ScenarioInput => ({ id: 'x', title: 'x', summary: 'x', actors: actors.map((name) => ({ name })), steps });

async function run(s: ScenarioInput, override?: Override) {
  const guest = new FakeGuest(override);
  const log: string[] = [];
  const report = await runScenario(fakeTarget(guest), validateScenario(s, 'test'), { log: (l) => log.push(l) });
  return { report, log: log.join('\n'), guest };
}

const race = (extra: Record<string, unknown> = {}) =>
  scenario(
    [
      {
        id: 'race',
        say: 'race',
        race: { file: 'f', pages: 8, rounds: 6, writers: ['w'], readers: ['r'], mutator: 'm', mutations: ['truncate', 'punch', 'extend'], pagesPerOp: 2, ...extra },
        expect: [{ check: 'no-data-mismatch', id: 'data' }],
      },
    ],
    ['w', 'r', 'm'],
  );

describe('races', () => {
  it('a race that raced: every value checked, held', async () => {
    const { report } = await run(race());
    expect(report.exitCode, report.cannotTest ?? '').toBe(0);
    expect(report.measurements.race).toMatchObject({ rounds: 6 });
    expect((report.measurements.race as { racingRounds: number }).racingRounds).toBeGreaterThan(0);
  });

  it('a race none of whose rounds raced a fault against a mutation could not test (it passed before)', async () => {
    // Writers only, truncate only: with the default seed the first truncate takes the file
    // to 0 pages, and from then on no round has a page to write or a size to truncate.
    const dull = scenario([{ id: 'race', say: 'race', race: { file: 'f', pages: 8, rounds: 5, writers: ['w'], mutator: 'm', mutations: ['truncate'], pagesPerOp: 2 }, expect: [{ check: 'no-data-mismatch', id: 'data' }] }], ['w', 'm']);
    const r = raceSchema.parse(dull.steps[0]!.race);
    expect(planRound(r, initialShadow(r, 1), 1, prng(1), 1)).toMatchObject({ mutation: { kind: 'truncate', newSize: 0 }, ops: [] });
    const { report, log } = await run(dull);
    expect(report.exitCode).toBe(125);
    expect(report.findings).toEqual([]);
    expect(report.cannotTest).toMatch(/the race raced nothing: none of its 5 rounds/);
    expect(report.expectations.find((v) => v.id === 'data')).toMatchObject({ status: 'not-applicable' });
    expect(log).toMatch(/0 racing a mutation/);
  });

  it("a mutator refused because the scenario is wrong (EINVAL from ftruncate: the race's file cannot be truncated) could not test, not a finding", async () => {
    const { report, log } = await run(race(), (actor, op) => (actor === 'm' && (op.op === 'ftruncate' || op.op === 'fallocate') ? { error: 'EINVAL' } : undefined));
    expect(report.exitCode).toBe(125);
    expect(report.findings).toEqual([]);
    expect(report.cannotTest).toMatch(/the scenario is wrong: step 1 \(race\), race round 1: m's (ftruncate|fallocate) failed with EINVAL/);
    expect(log).toMatch(/EINVAL — the scenario is wrong/);
  });

  it("the kernel refusing a mutation (EIO) is the race's finding, and the shadow does not take it as done", async () => {
    let n = 0;
    const { report } = await run(race(), (actor, op) => (actor === 'm' && op.op !== 'open' && op.op !== 'pattern_check' && n++ === 0 ? { error: 'EIO' } : undefined));
    expect(report.exitCode).toBe(1);
    expect(report.findings.map((f) => f.expectation)).toEqual(['race.round-1']);
    // Every value read matched the shadow: the refused mutation was not applied to it.
    expect(report.expectations.find((v) => v.id === 'data')).toMatchObject({ status: 'held' });
  });

  it('a faulter whose op the agent refused has no values to check: the race stops, no data mismatch is claimed', async () => {
    const { report } = await run(race(), (actor, op) => (actor === 'r' && op.op === 'pattern_check' ? { error: 'no mapping (mmap first)' } : undefined));
    expect(report.exitCode).toBe(125);
    expect(report.findings).toEqual([]);
  });
});

describe('a failing action in a step without an expectation', () => {
  const steps = (second: Record<string, unknown>) =>
    scenario([
      { id: 'open', actor: 'a', do: { op: 'open', path: 'f', create: true, size: '8K' }, say: 'open' },
      { id: 'map', actor: 'a', do: { op: 'mmap', length: '8K', flags: ['MAP_SHARED'] }, say: 'map', ...second },
      { id: 'touch', actor: 'a', do: { op: 'touch', pages: [0] }, say: 'touch', expect: [{ check: 'returns', ok: true }] },
    ]);

  it('refused because the scenario is wrong (EINVAL from mmap): could not test, in the log and the report, never a finding', async () => {
    const { report, log } = await run(steps({}), (_a, op) => (op.op === 'mmap' ? { error: 'EINVAL' } : undefined));
    expect(report.exitCode).toBe(125);
    expect(report.findings).toEqual([]);
    expect(report.cannotTest).toMatch(/step 2 \(map\).*mmap.*EINVAL/);
    expect(log).toMatch(/mmap.*EINVAL/);
    expect(report.steps[1]).toMatchObject({ id: 'map', action: { error: 'EINVAL' }, failure: { kind: 'scenario' } });
    // The rest did not run on a broken premise.
    expect(report.steps[2]).toMatchObject({ id: 'touch', status: 'not-reached' });
  });

  it('the same errno under an expectation that expects success is still the scenario (not a finding)', async () => {
    const { report } = await run(steps({ expect: [{ check: 'returns', ok: true }] }), (_a, op) => (op.op === 'mmap' ? { error: 'EACCES' } : undefined));
    expect(report.exitCode).toBe(125);
    expect(report.findings).toEqual([]);
  });

  it('a refusal the scenario declares is judged by its expectation', async () => {
    const { report } = await run(steps({ expect: [{ check: 'returns', errno: 'EINVAL' }] }), (_a, op) => (op.op === 'mmap' ? { error: 'EINVAL' } : undefined));
    expect(report.expectations.find((v) => v.id === 'map.1')).toMatchObject({ status: 'held' });
    expect(report.steps[1]!.failure).toMatchObject({ declared: true });
  });

  it("the kernel's refusal of what the scenario expects to succeed is a finding, with the errno as evidence", async () => {
    const { report } = await run(steps({ expect: [{ check: 'returns', ok: true }] }), (_a, op) => (op.op === 'mmap' ? { error: 'EOPNOTSUPP' } : undefined));
    expect(report.exitCode).toBe(1);
    expect(report.findings.map((f) => f.expectation)).toEqual(['map.1']);
  });

  it("the kernel's refusal that nothing in the scenario speaks of: visible, and the rest could not test", async () => {
    const { report, log } = await run(steps({}), (_a, op) => (op.op === 'mmap' ? { error: 'EOPNOTSUPP' } : undefined));
    expect(report.exitCode).toBe(125);
    expect(report.findings).toEqual([]);
    expect(report.cannotTest).toMatch(/EOPNOTSUPP/);
    expect(log).toMatch(/mmap.*EOPNOTSUPP/);
    expect(report.steps[1]!.failure).toMatchObject({ kind: 'kernel', declared: false });
  });
});

describe('the text report', () => {
  it('lists every action that failed, and whose mistake it was', async () => {
    const { formatReport } = await import('../../src/lab/reportText.js');
    const { report } = await run(
      scenario([
        { id: 'open', actor: 'a', do: { op: 'open', path: 'f', create: true, size: '8K' }, say: 'open' },
        { id: 'map', actor: 'a', do: { op: 'mmap', length: '8K', flags: ['MAP_SHARED'] }, say: 'map' },
      ]),
      (_a, op) => (op.op === 'mmap' ? { error: 'EINVAL' } : undefined),
    );
    const text = formatReport(report);
    expect(text).toMatch(/actions that failed \(1\):\n {2}\[2\] map: a's mmap failed: EINVAL \(the scenario is wrong: mmap failed with EINVAL/);
    expect(text).toMatch(/verdict: cannot-test \(exit 125\)/);
  });
});

describe('an async action that fails', () => {
  const steps = (later: ScenarioInput["steps"]) =>
    scenario([
      { id: 'open', actor: 'a', do: { op: 'open', path: 'f', create: true, size: '8K' }, say: 'open' },
      { id: 'trunc', actor: 'a', async: true, do: { op: 'ftruncate', size: 0 }, say: 'truncate, in the background' },
      { id: 'wait', actor: 'b', do: { op: 'sleep', for: '1ms' }, say: 'meanwhile' },
      ...later,
    ]);

  it("the kernel's refusal judged by a later returns check is that check's finding, not cut short", async () => {
    const { report } = await run(steps([{ id: 'check', actor: 'b', do: { op: 'sleep', for: '1ms' }, say: 'check', expect: [{ check: 'returns', step: 'trunc', ok: true }] }]), (_a, op) => (op.op === 'ftruncate' ? { error: 'EIO' } : undefined));
    expect(report.exitCode).toBe(1);
    expect(report.findings.map((f) => f.expectation)).toEqual(['check.1']);
  });

  it("the scenario's mistake is could not test, once it is seen", async () => {
    const { report } = await run(steps([{ id: 'check', actor: 'b', do: { op: 'sleep', for: '1ms' }, say: 'check', expect: [{ check: 'returns', step: 'trunc', ok: true }] }]), (_a, op) => (op.op === 'ftruncate' ? { error: 'EBADF' } : undefined));
    expect(report.exitCode).toBe(125);
    expect(report.findings).toEqual([]);
    expect(report.cannotTest).toMatch(/step 2 \(trunc\): a's ftruncate failed: ftruncate failed with EBADF/);
  });
});
