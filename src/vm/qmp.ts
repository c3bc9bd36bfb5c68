// A minimal QMP client: the greeting, qmp_capabilities, then one command at a time.
import net from 'node:net';
import readline from 'node:readline';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class Qmp {
  private pending: Pending[] = [];
  readonly events: Array<{ event: string; data?: unknown }> = [];

  private constructor(private socket: net.Socket) {
    readline
      .createInterface({ input: socket })
      .on('line', (line) => this.onLine(line))
      .on('error', () => {});
    socket.on('close', () => {
      for (const p of this.pending.splice(0)) p.reject(new Error('QMP connection closed'));
    });
    socket.on('error', () => {});
  }

  /**
   * Connect, read the greeting, negotiate. QEMU serves one QMP client at a time: a client
   * queued behind another gets no greeting, so the handshake has its deadline too.
   */
  static async connect(socketPath: string, deadline = Date.now() + 10_000): Promise<Qmp> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(socketPath, () => resolve(s));
      s.once('error', reject);
    });
    const qmp = new Qmp(socket);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`QMP at ${socketPath} sent no greeting in time (another client holds it?)`)), Math.max(0, deadline - Date.now()));
    });
    try {
      await Promise.race([qmp.nextReply(), late]); // the greeting
      await Promise.race([qmp.execute('qmp_capabilities'), late]);
      return qmp;
    } catch (err) {
      qmp.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * QEMU makes the socket as it starts: try for @timeoutMs until it accepts, then allow
   * @greetingMs for its greeting. QEMU restoring a saved state from a file (-incoming)
   * answers no monitor until the state is loaded, seconds on a loaded host: the greeting
   * gets the boot's own allowance, not the socket's. The signal ends the attempts when
   * the QEMU they were for is gone: a loop left running would take the next QEMU's only
   * QMP slot from the session that started it.
   */
  static async connectWithin(socketPath: string, timeoutMs: number, signal?: AbortSignal, greetingMs = timeoutMs): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      try {
        const qmp = await Qmp.connect(socketPath, Date.now() + greetingMs);
        if (signal?.aborted) {
          qmp.close();
          signal.throwIfAborted();
        }
        return qmp;
      } catch (err) {
        if (signal?.aborted || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private onLine(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if ('event' in msg) {
      this.events.push(msg as { event: string });
      return;
    }
    const waiter = this.pending.shift();
    if (!waiter) return;
    if ('error' in msg) waiter.reject(new Error(`QMP: ${JSON.stringify(msg.error)}`));
    else waiter.resolve(msg.return ?? msg.QMP);
  }

  private nextReply(): Promise<unknown> {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = this.nextReply();
    this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}
