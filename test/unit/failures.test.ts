// Whose mistake a failed action is (src/lab/failures.ts): the scenario's (could not test)
// or the kernel's answer (judged by the expectations), and when a scenario declares it.
import { describe, expect, it } from 'vitest';
import { classifyFailure, failureDeclared } from '../../src/lab/failures.js';
import { validateScenario, type ScenarioInput } from '../../src/lab/scenario.js';
import { builtinScenarios } from '../../src/lab/scenarios/index.js';
import { ACTOR_OP_NAMES } from '../../src/wire/ops.js';

describe('classifyFailure', () => {
  it('an action that did not fail has no class', () => {
    expect(classifyFailure({ op: 'mmap' })).toBeNull();
  });

  it('the lab refusing a request (no errno) is the scenario', () => {
    expect(classifyFailure({ op: 'touch', error: 'no mapping (mmap first)' })).toMatchObject({ kind: 'scenario', why: expect.stringContaining('no mapping') });
  });

  it('one errno, two meanings: EINVAL from mmap is the request; EOPNOTSUPP from a long-term pin is the kernel', () => {
    expect(classifyFailure({ op: 'mmap', error: 'EINVAL' })?.kind).toBe('scenario');
    expect(classifyFailure({ op: 'io_uring_register', error: 'EOPNOTSUPP' })?.kind).toBe('kernel');
    expect(classifyFailure({ op: 'rdma_reg_mr', error: 'EOPNOTSUPP' })?.kind).toBe('kernel');
    // A fallocate mode the filesystem lacks: the scenario asked this profile for what it cannot do.
    expect(classifyFailure({ op: 'fallocate', error: 'EOPNOTSUPP' })?.kind).toBe('scenario');
    // MAP_SYNC refused: the kernel says this mapping is not DAX (map-sync is about that).
    expect(classifyFailure({ op: 'mmap', error: 'EOPNOTSUPP' })?.kind).toBe('kernel');
  });

  it('a missing file, a read-only fd, an unaligned O_DIRECT are the scenario; EIO, EAGAIN from a lease, a signal are the kernel', () => {
    expect(classifyFailure({ op: 'open', error: 'ENOENT' })?.kind).toBe('scenario');
    expect(classifyFailure({ op: 'ftruncate', error: 'EBADF' })?.kind).toBe('scenario');
    expect(classifyFailure({ op: 'odirect', error: 'EINVAL' })?.kind).toBe('scenario');
    expect(classifyFailure({ op: 'odirect', error: 'EIO' })?.kind).toBe('kernel');
    expect(classifyFailure({ op: 'lease', error: 'EAGAIN' })?.kind).toBe('kernel');
    expect(classifyFailure({ op: 'touch', signal: 'SIGBUS' })?.kind).toBe('kernel');
  });

  it('an actor that died under its action is not a refused request', () => {
    expect(classifyFailure({ op: 'ftruncate', error: 'the actor exited during the action' })?.kind).toBe('kernel');
    expect(classifyFailure({ op: 'touch', error: 'ECANCELED' })?.kind).toBe('kernel');
  });

  it('every op of the catalogue is classified, for any errno, in words that name the op', () => {
    for (const op of ACTOR_OP_NAMES) {
      for (const error of ['EINVAL', 'EBADF', 'EPERM', 'EIO', 'no open file']) {
        const c = classifyFailure({ op, error });
        expect(c?.why).toContain(op);
      }
    }
  });
});

const base = (steps: ScenarioInput['steps']): ScenarioInput => ({ id: 'x', title: 'x', summary: 'x', actors: [{ name: 'a' }, { name: 'b' }], steps });

describe('failureDeclared', () => {
  it('a returns check that allows the errno declares it; one that expects ok does not', () => {
    const s = validateScenario(
      base([
        { id: 'open', actor: 'a', do: { op: 'open', path: 'f', create: true, size: '4K' }, say: 'x', expect: [{ check: 'returns', ok: true }] },
        { id: 'pin', actor: 'a', do: { op: 'mmap', length: '4K', flags: ['MAP_SHARED'] }, say: 'x', expect: [{ check: 'returns', errno: ['EINVAL', 'EOPNOTSUPP'] }] },
      ]),
      'test',
    );
    expect(failureDeclared(s, 'pin', { op: 'mmap', error: 'EINVAL' })).toBe(true);
    expect(failureDeclared(s, 'pin', { op: 'mmap', error: 'EACCES' })).toBe(false);
    expect(failureDeclared(s, 'open', { op: 'open', error: 'ENOENT' })).toBe(false);
  });

  it('a later step that asks whether it failed or succeeded declares any failure; a signal sent to the actor declares what it does', () => {
    const s = validateScenario(
      base([
        { id: 'take', actor: 'a', do: { op: 'open', path: 'f', create: true }, say: 'x' },
        { id: 'after', when: { succeeded: 'take' }, actor: 'a', do: { op: 'close' }, say: 'x' },
        { id: 'sleep', actor: 'b', async: true, do: { op: 'sleep', for: '10s' }, say: 'x' },
        { id: 'stop', kill: { actor: 'b', signal: 'SIGKILL' }, say: 'x' },
      ]),
      'test',
    );
    expect(failureDeclared(s, 'take', { op: 'open', error: 'ENOENT' })).toBe(true);
    expect(failureDeclared(s, 'after', { op: 'close', error: 'EBADF' })).toBe(false);
    expect(failureDeclared(s, 'sleep', { op: 'sleep', signal: 'SIGKILL' })).toBe(true);
  });

  it('the built-in scenarios declare each failure their expectations are about', () => {
    // longterm-pin expects EOPNOTSUPP from the fsdax pins: declared, so never "the scenario is wrong".
    const lt = builtinScenarios.find((s) => s.id === 'longterm-pin')!;
    const refused = lt.steps.filter((st) => st.expect?.some((p) => p.check === 'returns' && p.errno === 'EOPNOTSUPP'));
    expect(refused.length).toBeGreaterThan(0);
    for (const st of refused) expect(failureDeclared(lt, st.id!, { op: st.do!.op, error: 'EOPNOTSUPP' })).toBe(true);
  });
});

describe('a race that can race nothing', () => {
  const race = (mutations: string[]) =>
    base([{ id: 'race', say: 'x', race: { file: 'f', pages: 8, rounds: 3, writers: ['a'], mutator: 'b', mutations: mutations as Array<'extend'> } }]);
  it('extend alone is refused before boot (the file starts at its largest size)', () => {
    expect(() => validateScenario(race(['extend']), 'test')).toThrow(/steps\[0\]\.race\.mutations: extend alone never happens/);
    expect(() => validateScenario(race(['extend', 'punch']), 'test')).not.toThrow();
  });
});

describe('the report of a run whose guest was lost', () => {
  it('keeps the steps and verdicts so far, names the step in progress, and is could-not-test even after a violation', async () => {
    const { partialReport, formatPartialReport } = await import('../../src/commands/scenarios.js');
    const s = validateScenario(base([{ id: 'one', actor: 'a', do: { op: 'sleep', for: '1ms' }, say: 'x' }, { id: 'two', actor: 'a', do: { op: 'sleep', for: '1s' }, say: 'y' }]), 'test');
    const record = { step: 1, id: 'one', say: 'x', status: 'ran' as const, actor: 'a', op: 'sleep', action: { ret: 0 }, start: 1, end: 1.1 };
    const verdict = { id: 'one.1', step: 1, stepId: 'one', check: 'returns', description: 'sleep returns', status: 'violated' as const, detail: 'd', evidence: {}, t: 1 };
    const r = partialReport(
      s,
      [
        { kind: 'step-started', index: 0, stepId: 'one', skipped: false },
        { kind: 'verdict', verdict },
        { kind: 'step-ended', index: 0, record },
        { kind: 'step-started', index: 1, stepId: 'two', skipped: false },
      ],
      'the guest stopped running: the guest agent has sent nothing for 10 s',
    );
    expect(r).toMatchObject({ verdict: 'cannot-test', exitCode: 125, steps: [record], inProgress: { index: 1, stepId: 'two' }, violatedBeforeLoss: ['one.1'] });
    const text = formatPartialReport(r);
    expect(text).toMatch(/\[2\] two: running when the guest was lost/);
    expect(text).toMatch(/verdict: cannot-test \(exit 125\): the guest stopped running/);
  });
});
