// Drives the guest agent from the host: actors, actions, watches, snapshots. Used by the
// self-test and the scenario engine; it only sends commands and listens to messages.
import type { AgentLink } from '../wire/link.js';
import type { ActionMessage, ActorOp, AgentMessage, EventMessage, SnapshotMessage } from '../wire/protocol.js';

export type ActionEnd = ActionMessage & { phase: 'end' };

export class LabDriver {
  private ends = new Map<number, ActionEnd>();
  private endWaiters = new Map<number, (m: ActionEnd) => void>();
  private collectors = new Set<EventMessage[]>();
  private readonly onMessage = (m: AgentMessage) => {
    if (m.kind === 'event') for (const c of this.collectors) c.push(m);
    else if (m.kind === 'action' && m.phase === 'end') {
      const end = m as ActionEnd;
      const waiter = this.endWaiters.get(m.id);
      if (waiter) {
        this.endWaiters.delete(m.id);
        waiter(end);
      } else this.ends.set(m.id, end);
    }
  };

  constructor(readonly channel: AgentLink) {
    channel.on('message', this.onMessage);
  }

  /** Stop listening to the channel (a run is over). Idempotent. */
  close(): void {
    this.channel.off('message', this.onMessage);
    for (const c of this.collectors) c.length = 0;
    this.collectors.clear();
    this.ends.clear();
    this.endWaiters.clear();
  }

  /** Collect the tracepoint events from now until stop(): a window the caller opens and closes. */
  collectEvents(): { readonly events: readonly EventMessage[]; stop(): EventMessage[] } {
    const events: EventMessage[] = [];
    this.collectors.add(events);
    return {
      events,
      stop: () => {
        this.collectors.delete(events);
        return events;
      },
    };
  }

  startActor(actor: string, program?: 'agent' | 'verbs'): Promise<unknown> {
    return this.channel.request({ cmd: 'actor-start', actor, ...(program ? { program } : {}) });
  }

  /** Start an action; the returned promise settles with its "end" message. */
  async start(actor: string, op: ActorOp): Promise<{ id: number; end: Promise<ActionEnd> }> {
    const accepted = (await this.channel.request({ cmd: 'act', actor, ...op })) as { id: number };
    const id = accepted.id;
    const end = new Promise<ActionEnd>((resolve) => {
      const early = this.ends.get(id);
      if (early) {
        this.ends.delete(id);
        resolve(early);
      } else this.endWaiters.set(id, resolve);
    });
    return { id, end };
  }

  /** Run an action to its end (with a time bound: a hang is reported, not waited out). */
  async act(actor: string, op: ActorOp, timeoutMs = 30_000): Promise<ActionEnd> {
    const { end } = await this.start(actor, op);
    return withTimeout(end, timeoutMs, `${actor}: ${op.op} did not finish within ${timeoutMs} ms`);
  }

  /** Run an action that must succeed. */
  async ok(actor: string, op: ActorOp, timeoutMs?: number): Promise<ActionEnd> {
    const end = await this.act(actor, op, timeoutMs);
    if (end.error || end.signal) throw new Error(`${actor}: ${op.op} failed: ${end.error ?? end.signal} (ret ${end.ret})`);
    return end;
  }

  watchPages(actor: string, pages: number[], label?: string): Promise<unknown> {
    return this.channel.request({ cmd: 'watch-pages', actor, pages, ...(label ? { label } : {}) });
  }

  /** Arm the refcount watchpoints on these watched pages (replacing any armed before); [] disarms. */
  refWatch(pages: Array<{ label: string; index: number }>): Promise<unknown> {
    return this.channel.request({ cmd: 'refwatch', pages });
  }

  /** One snapshot taken now. */
  async sample(): Promise<SnapshotMessage> {
    let on: (m: AgentMessage) => void = () => {};
    const next = new Promise<SnapshotMessage>((resolve) => {
      on = (m: AgentMessage) => {
        if (m.kind !== 'snapshot') return;
        this.channel.off('message', on);
        resolve(m);
      };
      this.channel.on('message', on);
    });
    try {
      await this.channel.request({ cmd: 'sample' });
    } catch (err) {
      this.channel.off('message', on); // no snapshot is coming: leave nothing behind
      throw err;
    }
    return next;
  }

  /** Sample until the predicate holds; resolves with the snapshot, or null at the deadline. */
  async waitFor(predicate: (s: SnapshotMessage) => boolean, timeoutMs: number, everyMs = 100): Promise<SnapshotMessage | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const snap = await this.sample();
      if (predicate(snap)) return snap;
      if (Date.now() > deadline) return null;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** Run a busybox applet by name: applets live in /bin, /sbin, /usr/bin... depending on the applet. */
  busybox(applet: string, ...args: string[]) {
    return this.exec(['/bin/busybox', applet, ...args]);
  }

  exec(argv: string[], timeoutMs?: number) {
    return this.channel.request({ cmd: 'exec', argv, ...(timeoutMs ? { timeoutMs } : {}) }) as Promise<{
      status: number;
      stdout: string;
      stderr: string;
    }>;
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e as Error);
      },
    );
  });
}
