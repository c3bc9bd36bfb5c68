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

  static async connect(socketPath: string): Promise<Qmp> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(socketPath, () => resolve(s));
      s.once('error', reject);
    });
    const qmp = new Qmp(socket);
    await qmp.nextReply(); // the greeting
    await qmp.execute('qmp_capabilities');
    return qmp;
  }

  /** QEMU makes the socket as it starts: try until it answers or time runs out. */
  static async connectWithin(socketPath: string, timeoutMs: number): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await Qmp.connect(socketPath);
      } catch (err) {
        if (Date.now() > deadline) throw err;
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
