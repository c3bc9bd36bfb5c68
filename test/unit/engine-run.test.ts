// One fold per run: the engine folds the channel once, tells its progress as typed events,
// and leaves nothing listening on the channel when the run is over. The guest is the fake
// agent of fakeGuest.ts, every action answered with success (no simulated file), so the
// engine's whole path runs.
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runScenario, type RunEvent } from '../../src/lab/engine.js';
import { validateScenario } from '../../src/lab/scenario.js';
import type { HostCommand } from '../../src/wire/protocol.js';
import { everyOpReturnsZero, FakeGuest, fakeTarget } from './fakeGuest.js';

// Count the reducers (initial states) the engine makes, keeping the real ones.
const folds = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../src/lab/state.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/lab/state.js')>();
  return {
    ...real,
    initialState: (...args: Parameters<typeof real.initialState>) => {
      folds.count++;
      return real.initialState(...args);
    },
  };
});

const scenario = validateScenario(
  {
    id: 'fake',
    title: 'fake',
    summary: 'a run on a fake agent',
    actors: [{ name: 'a' }],
    steps: [
      { id: 'open', actor: 'a', do: { op: 'open', path: 'f', create: true, size: '4K' }, say: 'open a file', expect: [{ check: 'returns', ok: true }] },
      { id: 'ext4-only', actor: 'a', when: { fs: ['ext4'] }, do: { op: 'ftruncate', size: 0 }, say: 'only on ext4', expect: [{ check: 'returns', ok: true }] },
      { id: 'map', actor: 'a', do: { op: 'mmap', length: '4K', flags: ['MAP_SHARED'] }, say: 'map it', expect: [{ id: 'map-fails', check: 'returns', errno: 'EBUSY' }] },
    ],
  },
  'test',
);

afterEach(() => {
  folds.count = 0;
});

describe('a run on the channel', () => {
  it('folds the channel once, says where it is in typed events and leaves no listener behind', async () => {
    const agent = new FakeGuest(everyOpReturnsZero);
    const before = agent.counts();
    expect(Object.values(before).every((n) => n === 0)).toBe(true);
    const target = fakeTarget(agent);
    const events: RunEvent[] = [];
    const during: Array<Record<string, number>> = [];
    const report = await runScenario(target, scenario, { onEvent: (e) => events.push(e), afterStep: () => void during.push(agent.counts()) });

    expect(folds.count).toBe(1);
    // While it ran: its own fold (one listener per channel event it follows) and its driver's.
    for (const d of during) expect(d).toEqual({ message: 2, 'protocol-error': 1, line: 1, sent: 1, close: 0 });
    expect(agent.counts()).toEqual(before);
    expect(agent.getMaxListeners()).toBe(EventEmitter.defaultMaxListeners);

    const kinds = events.map((e) => (e.kind === 'step-started' ? `start ${e.index}${e.skipped ? ' skipped' : ''}` : e.kind === 'step-ended' ? `end ${e.index}` : e.kind === 'verdict' ? `verdict ${e.verdict.id} ${e.verdict.status}` : e.kind));
    expect(kinds).toEqual([
      'start 0',
      'verdict open.1 held',
      'end 0',
      'start 1 skipped',
      'verdict ext4-only.1 not-applicable',
      'end 1',
      'start 2',
      'verdict map-fails violated',
      'finding',
      'end 2',
      'run-ended',
    ]);
    const last = events.at(-1)!;
    expect(last.kind === 'run-ended' && last.report).toBe(report);
    expect(report.exitCode).toBe(1);
    expect(report.cleanup).toMatchObject({ stuck: [], guestReusable: true });
  });

  it('the hang detector says its one verdict when nothing hung', async () => {
    const agent = new FakeGuest(everyOpReturnsZero);
    const target = fakeTarget(agent);
    const watched = validateScenario({ ...JSON.parse(JSON.stringify(scenario)), hangDetector: { blockedLongerThan: '10s' } }, 'test');
    const report = await runScenario(target, watched);
    expect(report.expectations.filter((v) => v.id === 'no-hang')).toEqual([
      expect.objectContaining({ check: 'hang-detector', status: 'held', description: 'no task blocked longer than 10s', detail: 'the longest sleep inside an action was 0 ms' }),
    ]);
    expect(agent.counts()).toEqual({ message: 0, 'protocol-error': 0, line: 0, sent: 0, close: 0 });
  });

  it('a run that fails half-way leaves no listener behind either', async () => {
    const agent = new FakeGuest(everyOpReturnsZero);
    const failing = Object.assign(agent, {
      request: ((orig) => (command: HostCommand) => (command.cmd === 'act' ? Promise.reject(new Error('the agent channel closed (guest gone?)')) : orig(command)))(agent.request.bind(agent)),
    });
    const target = fakeTarget(failing);
    await expect(runScenario(target, scenario)).rejects.toThrow(/channel closed/);
    expect(agent.counts()).toEqual({ message: 0, 'protocol-error': 0, line: 0, sent: 0, close: 0 });
  });
});
