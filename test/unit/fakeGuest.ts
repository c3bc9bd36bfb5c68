// The fake guest of the engine tests (engine-run, engine-faults): an agent that answers
// every command the engine sends as the real one does (replies on a later tick, action
// start/end, a snapshot per "sample", an actor-exit after a kill), over one simulated file
// that every actor shares: writes store page tags, truncate/punch/extend change it,
// pattern_check reads it back. Each test can answer ops its own way (an errno, a signal)
// to play the kernel's refusals and the scenario's mistakes, or answer every op with
// success and no simulated file at all (everyOpReturnsZero).
import { EventEmitter } from 'node:events';
import { validateProfile } from '../../src/config/profiles.js';
import type { LabTarget } from '../../src/lab/engine.js';
import type { AgentLink, LinkEvents } from '../../src/wire/link.js';
import type { AgentMessage, HelloResult, HostCommand, ReadyMessage } from '../../src/wire/protocol.js';
import { PATTERN } from '../../src/wire/protocol.js';
import { snap } from './messages.js';

const PAGE = 4096;

export type Outcome = { error?: string; signal?: string; ret?: number; result?: Record<string, unknown> };
/** Per act command: an outcome to give instead of the simulated one, or undefined. */
export type Override = (actor: string, op: Record<string, unknown>) => Outcome | undefined;

/** Every action ends with ret 0 and no result: the engine's path, no kernel simulated. */
export const everyOpReturnsZero: Override = () => ({ ret: 0 });

/** The channel events an engine may follow. */
export const LINK_EVENTS: Array<keyof LinkEvents> = ['message', 'protocol-error', 'line', 'sent', 'close'];

export class FakeGuest extends EventEmitter<LinkEvents> implements AgentLink {
  closed = false;
  private t = 1;
  private nextId = 1;
  private nextAction = 100;
  private readonly actors = new Map<string, { pid: number; alive: boolean }>();
  /** The one file: its size in pages and each page's tag (0: zeros). */
  private size = 0;
  private tags: number[] = [];
  readonly acts: Array<{ actor: string; op: string }> = [];

  constructor(private readonly override: Override = () => undefined) {
    super();
  }

  private say(m: Omit<AgentMessage, 't'>): void {
    this.t += 0.01;
    this.emit('message', { ...m, t: this.t } as AgentMessage);
  }

  /** Listeners on each channel event: what a run left behind. */
  counts(): Record<string, number> {
    return Object.fromEntries(LINK_EVENTS.map((e) => [e, this.listenerCount(e)]));
  }

  waitFor(): never {
    throw new Error('the engine does not wait for messages by kind');
  }

  /** What the simulated kernel does with an op. */
  private simulate(op: Record<string, unknown>): Outcome {
    switch (op.op) {
      case 'open':
        if (typeof op.size === 'number') {
          this.size = Math.ceil(op.size / PAGE);
          this.tags = Array<number>(this.size).fill(0);
        }
        return { ret: 3, result: { fd: 3, dax: true } };
      case 'ftruncate': {
        const n = Math.ceil((op.size as number) / PAGE);
        this.tags = n <= this.size ? this.tags.slice(0, n) : [...this.tags, ...Array<number>(n - this.size).fill(0)];
        this.size = n;
        return { ret: 0 };
      }
      case 'fallocate': {
        const from = (op.offset as number) / PAGE;
        for (let p = from; p < from + (op.length as number) / PAGE && p < this.size; p++) this.tags[p] = 0;
        return { ret: 0 };
      }
      case 'pattern_write':
        (op.pages as number[]).forEach((p, i) => p < this.size && (this.tags[p] = (op.tags as number[])[i]!));
        return { ret: 0, result: { faults: [] } };
      case 'pattern_check': {
        const beyond = op.via === 'read' ? PATTERN.short : PATTERN.sigbus;
        return { ret: 0, result: { tags: (op.pages as number[]).map((p) => (p < this.size ? this.tags[p]! : beyond)) } };
      }
      default:
        return { ret: 0 };
    }
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
            const { cmd: _cmd, actor, ...op } = command as unknown as Record<string, unknown> & { actor: string };
            this.acts.push({ actor, op: op.op as string });
            const action = this.nextAction++;
            reply({ id: action });
            this.say({ kind: 'action', id: action, actor, op: op.op, phase: 'start' } as Omit<AgentMessage, 't'>);
            const o = this.override(actor, op) ?? this.simulate(op);
            const end = { kind: 'action', id: action, actor, op: op.op, phase: 'end', ms: 1, ret: o.ret ?? (o.error || o.signal ? -1 : 0), ...(o.error ? { error: o.error } : {}), ...(o.signal ? { signal: o.signal } : {}), ...(o.result ? { result: o.result } : {}) };
            setImmediate(() => this.say(end as Omit<AgentMessage, 't'>));
            return;
          }
          case 'sample': {
            this.t += 0.01;
            const actors = [...this.actors].filter(([, a]) => a.alive).map(([name, a]) => ({ name, pid: a.pid, state: 'S', wchan: 'do_wait', blockedMs: 0, stack: [] }));
            this.emit('message', snap(this.t, { actors }));
            return reply({});
          }
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
}

const ready: ReadyMessage = { kind: 'ready', t: 0, release: '6.1.0-fake', version: '#1 SMP', machine: 'x86_64', uptime: { initStart: 0, modulesDone: 0, agentStart: 0 }, btf: true, kcore: true };
const hello = { mount: { fstype: 'xfs', options: 'rw,dax=always' }, nvdimms: [] } as unknown as HelloResult;

export function fakeTarget(guest: FakeGuest): LabTarget {
  return { channel: guest, hello, ready, profile: validateProfile({ name: 'fake' }, 'test') };
}
