// One fold per run: the engine folds the channel once, tells its progress as typed events,
// and leaves nothing listening on the channel when the run is over. The guest is a fake
// agent that answers every command the way the real one does (replies, action start/end,
// snapshots on "sample", an actor-exit after a kill), so the engine's whole path runs.
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { validateProfile } from '../../src/config/profiles.js';
import { runScenario, type LabTarget, type RunEvent } from '../../src/lab/engine.js';
import { validateScenario } from '../../src/lab/scenario.js';
import type { AgentLink, LinkEvents } from '../../src/wire/link.js';
import type { AgentMessage, HelloResult, HostCommand, ReadyMessage } from '../../src/wire/protocol.js';
import { snap } from './messages.js';

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

const EVENTS: Array<keyof LinkEvents> = ['message', 'protocol-error', 'line', 'sent', 'close'];

/** A fake agent: every command answered on a later tick, as the real agent does. */
class FakeAgent extends EventEmitter<LinkEvents> implements AgentLink {
  closed = false;
  private t = 1;
  private nextId = 1;
  private nextAction = 100;
  private readonly actors = new Map<string, { pid: number; alive: boolean }>();

  private say(m: Omit<AgentMessage, 't'>): void {
    this.t += 0.01;
    this.emit('message', { ...m, t: this.t } as AgentMessage);
  }

  private snapshot(): void {
    this.t += 0.01;
    const actors = [...this.actors].filter(([, a]) => a.alive).map(([name, a]) => ({ name, pid: a.pid, state: 'S', wchan: 'do_wait', blockedMs: 0, stack: [] }));
    this.emit('message', snap(this.t, { actors }));
  }

  waitFor(): never {
    throw new Error('the engine does not wait for messages by kind');
  }

  request(command: HostCommand): Promise<unknown> {
    const id = this.nextId++;
    this.emit('sent', { id, ...command });
    return new Promise((resolve) => {
      setImmediate(() => {
        const reply = (result: unknown) => {
          this.say({ kind: 'reply', id, ok: true, result } as Omit<AgentMessage, 't'>);
          resolve(result);
        };
        switch (command.cmd) {
          case 'observe':
            return reply({ baselines: { fsdax: { known: true, idle: 1 } } });
          case 'exec':
            return reply({ status: 0, stdout: command.argv.includes('/proc/sys/fs/lease-break-time') ? '45\n' : '', stderr: '' });
          case 'actor-start': {
            const pid = 1000 + this.actors.size;
            this.actors.set(command.actor, { pid, alive: true });
            return reply({ pid });
          }
          case 'act': {
            const action = this.nextAction++;
            reply({ id: action });
            this.say({ kind: 'action', id: action, actor: command.actor, op: command.op, phase: 'start' } as Omit<AgentMessage, 't'>);
            setImmediate(() => this.say({ kind: 'action', id: action, actor: command.actor, op: command.op, phase: 'end', ret: 0, ms: 1 } as Omit<AgentMessage, 't'>));
            return;
          }
          case 'sample':
            this.snapshot();
            return reply({});
          case 'actor-kill': {
            const a = this.actors.get(command.actor)!;
            a.alive = false;
            reply({});
            this.say({ kind: 'actor-exit', actor: command.actor, pid: a.pid, signal: command.signal ?? 'SIGTERM' } as Omit<AgentMessage, 't'>);
            return;
          }
          default:
            return reply({});
        }
      });
    });
  }

  counts(): Record<string, number> {
    return Object.fromEntries(EVENTS.map((e) => [e, this.listenerCount(e)]));
  }
}

const ready: ReadyMessage = { kind: 'ready', t: 0, release: '6.1.0-fake', version: '#1 SMP', machine: 'x86_64', uptime: { initStart: 0, modulesDone: 0, agentStart: 0 }, btf: true, kcore: true };
const hello = { mount: { fstype: 'xfs', options: 'rw,dax=always' }, nvdimms: [] } as unknown as HelloResult;

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
    const agent = new FakeAgent();
    const before = agent.counts();
    expect(Object.values(before).every((n) => n === 0)).toBe(true);
    const target: LabTarget = { channel: agent, hello, ready, profile: validateProfile({ name: 'fake' }, 'test') };
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
    const agent = new FakeAgent();
    const target: LabTarget = { channel: agent, hello, ready, profile: validateProfile({ name: 'fake' }, 'test') };
    const watched = validateScenario({ ...JSON.parse(JSON.stringify(scenario)), hangDetector: { blockedLongerThan: '10s' } }, 'test');
    const report = await runScenario(target, watched);
    expect(report.expectations.filter((v) => v.id === 'no-hang')).toEqual([
      expect.objectContaining({ check: 'hang-detector', status: 'held', description: 'no task blocked longer than 10s', detail: 'the longest sleep inside an action was 0 ms' }),
    ]);
    expect(agent.counts()).toEqual({ message: 0, 'protocol-error': 0, line: 0, sent: 0, close: 0 });
  });

  it('a run that fails half-way leaves no listener behind either', async () => {
    const agent = new FakeAgent();
    const failing = Object.assign(agent, {
      request: ((orig) => (command: HostCommand) => (command.cmd === 'act' ? Promise.reject(new Error('the agent channel closed (guest gone?)')) : orig(command)))(agent.request.bind(agent)),
    });
    const target: LabTarget = { channel: failing, hello, ready, profile: validateProfile({ name: 'fake' }, 'test') };
    await expect(runScenario(target, scenario)).rejects.toThrow(/channel closed/);
    expect(agent.counts()).toEqual({ message: 0, 'protocol-error': 0, line: 0, sent: 0, close: 0 });
  });
});
