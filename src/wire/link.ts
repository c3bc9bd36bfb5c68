// The agent link: what the lab needs of a connection to the guest agent. src/vm/channel.ts
// implements it over QEMU's virtio-serial socket; the lab and the screens see only this.
import type { AgentMessage, HostCommand, ProtocolError } from './protocol.js';

/** The agent refused a command, or a command failed inside the guest (its reply's error). */
export class AgentError extends Error {
  constructor(
    readonly stage: string,
    message: string,
    readonly output?: string,
  ) {
    super(`${stage}: ${message}${output ? `\n${output.trimEnd()}` : ''}`);
  }
}

export type LinkEvents = {
  /** Every valid message, in order: the recorder and the reducer listen here. */
  message: [AgentMessage];
  /** A line that is not valid protocol: reported, kept in the transcript, never fatal. */
  'protocol-error': [ProtocolError];
  /** Every raw line as received (for transcripts). */
  line: [string];
  /** Every command as written to the agent, id included (for transcripts). */
  sent: [{ id: number } & HostCommand];
  close: [];
};

export interface AgentLink {
  readonly closed: boolean;
  on<E extends keyof LinkEvents>(event: E, listener: (...args: LinkEvents[E]) => void): unknown;
  off<E extends keyof LinkEvents>(event: E, listener: (...args: LinkEvents[E]) => void): unknown;
  /** How many listeners an event has (the tests check a run leaves none behind). */
  listenerCount<E extends keyof LinkEvents>(event: E): number;
  /** Wait for the first message of a kind (e.g. "ready"). */
  waitFor<K extends AgentMessage['kind']>(kind: K, timeoutMs: number, signal?: AbortSignal): Promise<Extract<AgentMessage, { kind: K }>>;
  /** Send a command; resolves with the reply's result, rejects with an AgentError. */
  request(command: HostCommand, timeoutMs?: number): Promise<unknown>;
}
