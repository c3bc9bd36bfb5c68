// The QMP client's connection: QEMU serves one QMP client at a time, and a boot attempt
// that is given up (KVM -> TCG) must not leave a loop behind that takes the next QEMU's slot.
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Qmp } from '../../src/vm/qmp.js';
import { tempDirs } from './tempDirs.js';

const tmp = tempDirs('daxlab-qmp-');

/** A QMP server like QEMU's: greets its first client only (after @greetAfterMs), answers each command. */
async function fakeQemu(sock: string, greetAfterMs = 0) {
  let clients = 0;
  const server = net.createServer((socket) => {
    clients++;
    if (clients > 1) return; // queued behind the first: no greeting
    setTimeout(() => socket.write(`${JSON.stringify({ QMP: { version: {}, capabilities: [] } })}\n`), greetAfterMs);
    socket.on('data', () => socket.write(`${JSON.stringify({ return: {} })}\n`));
  });
  await new Promise<void>((r) => server.listen(sock, r));
  return { clients: () => clients, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('QMP connection', () => {
  it('a client that gets no greeting gives up at its deadline instead of waiting for ever', async () => {
    const sock = path.join(tmp(), 'qmp.sock');
    const qemu = await fakeQemu(sock);
    const first = await Qmp.connect(sock);
    const began = Date.now();
    await expect(Qmp.connect(sock, Date.now() + 300)).rejects.toThrow(/no greeting/);
    expect(Date.now() - began).toBeLessThan(2000);
    first.close();
    await qemu.close();
  });

  it('a greeting late beyond the connect time is waited for (QEMU loading a saved state says nothing until loaded)', async () => {
    const sock = path.join(tmp(), 'qmp.sock');
    const qemu = await fakeQemu(sock, 600);
    const qmp = await Qmp.connectWithin(sock, 100, undefined, 5000);
    qmp.close();
    await qemu.close();
  });

  it('an aborted attempt stops retrying and does not connect to a QEMU that starts later', async () => {
    const sock = path.join(tmp(), 'qmp.sock');
    const attempt = new AbortController();
    const loop = Qmp.connectWithin(sock, 10_000, attempt.signal);
    loop.catch(() => {});
    await new Promise((r) => setTimeout(r, 150)); // no socket yet: it retries
    attempt.abort(new Error('QEMU exited'));
    await expect(loop).rejects.toThrow(/QEMU exited/);
    const qemu = await fakeQemu(sock); // the next attempt's QEMU, on the same path
    await new Promise((r) => setTimeout(r, 200));
    const next = await Qmp.connectWithin(sock, 2000);
    expect(qemu.clients()).toBe(1); // the only client is the new attempt's
    next.close();
    await qemu.close();
  });
});
