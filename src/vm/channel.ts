// The agent channel: QEMU's virtio-serial chardev socket, JSON lines both ways, typed.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  agentError,
  AgentLineDecoder,
  ProtocolError,
  type AgentMessage,
  type HostCommand,
  type ReplyMessage,
} from '../wire/protocol.js';
import { AgentError, type AgentLink, type LinkEvents } from '../wire/link.js';
import { CannotTestError } from '../exit.js';

/**
 * The agent did not answer a command in time. A stopped or hung guest is caught sooner by
 * the heartbeat (session.ts); an agent that still beats but does not answer is a guest
 * too slow for the lab (a loaded host under TCG): could not test, not a bug of ours.
 */
export class AgentTimeoutError extends CannotTestError {
  override name = 'AgentTimeoutError';
}

export class AgentChannel extends EventEmitter<LinkEvents> implements AgentLink {
  private nextId = 1;
  private decoder = new AgentLineDecoder();
  private waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  closed = false;

  private constructor(private socket: net.Socket) {
    super();
    readline
      .createInterface({ input: socket, crlfDelay: Infinity })
      .on('line', (line) => this.onLine(line))
      .on('error', () => {}); // the guest went away: 'close' reports it
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.values()) w.reject(new Error('the agent channel closed (guest gone?)'));
      this.waiting.clear();
      this.emit('close');
    });
    socket.on('error', () => {});
  }

  /**
   * QEMU creates the socket at start-up; retry until it accepts or time runs out. The signal
   * ends the attempts when the QEMU they were for is gone (see Qmp.connectWithin).
   */
  static async connect(socketPath: string, timeoutMs = 10_000, signal?: AbortSignal): Promise<AgentChannel> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.createConnection(socketPath, () => resolve(s));
          s.once('error', reject);
        });
        if (signal?.aborted) {
          socket.destroy();
          signal.throwIfAborted();
        }
        return new AgentChannel(socket);
      } catch (err) {
        if (signal?.aborted) throw err;
        if (Date.now() > deadline) throw new Error(`cannot connect to the agent socket ${socketPath}: ${(err as Error).message}`);
        await sleep(50);
      }
    }
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    this.emit('line', line);
    let msg: AgentMessage;
    try {
      msg = this.decoder.decode(line);
    } catch (err) {
      this.emit('protocol-error', err as ProtocolError);
      return;
    }
    this.emit('message', msg);
    if (msg.kind === 'reply') this.settle(msg);
  }

  private settle(reply: ReplyMessage): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else {
      const e = agentError.parse(reply.error);
      waiter.reject(new AgentError(e.stage, e.message, e.output));
    }
  }

  /** Wait for the first message of a kind (e.g. "ready"). */
  waitFor<K extends AgentMessage['kind']>(kind: K, timeoutMs: number, signal?: AbortSignal): Promise<Extract<AgentMessage, { kind: K }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: AgentMessage) => {
        if (msg.kind !== kind) return;
        cleanup();
        resolve(msg as Extract<AgentMessage, { kind: K }>);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no "${kind}" message from the agent within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = () => {
        cleanup();
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      // The guest went away: no such message will come, and the timer must not keep us alive.
      const onClose = () => {
        cleanup();
        reject(new Error(`the agent channel closed before a "${kind}" message (guest gone?)`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.off('message', onMessage);
        this.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
      };
      if (this.closed) return onClose();
      this.on('message', onMessage);
      this.on('close', onClose);
      signal?.addEventListener('abort', onAbort);
    });
  }

  /** Send a command; resolves with the reply's result, rejects with an AgentError. */
  request(command: HostCommand, timeoutMs = 60_000): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the agent channel is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new AgentTimeoutError(`could not test: the agent did not answer "${command.cmd}" within ${timeoutMs} ms (the guest is too slow: a loaded host?)`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const wire = { id, ...command };
      this.emit('sent', wire);
      this.socket.write(`${JSON.stringify(wire)}\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
