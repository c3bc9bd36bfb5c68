import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentChannel } from '../../src/vm/channel.js';
import { AgentError } from '../../src/wire/link.js';
import type { ProtocolError } from '../../src/wire/protocol.js';
import { tempDirs } from './tempDirs.js';

const tmp = tempDirs('daxlab-chan-');

/** A fake agent on a unix socket: answers each command with what `respond` returns. */
async function fakeAgent(respond: (cmd: Record<string, unknown>, socket: net.Socket) => void) {
  const dir = tmp();
  const sock = path.join(dir, 'agent.sock');
  const server = net.createServer((socket) => {
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        respond(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>, socket);
        buf = buf.slice(nl + 1);
      }
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  return { sock, close: () => server.close() };
}

describe('agent channel', () => {
  it('matches replies to requests by id and turns error replies into AgentError', async () => {
    const agent = await fakeAgent((cmd, s) => {
      if (cmd.cmd === 'ping') s.write(`${JSON.stringify({ t: 1, kind: 'reply', id: cmd.id, ok: true, result: { pong: cmd.id } })}\n`);
      else s.write(`${JSON.stringify({ t: 1, kind: 'reply', id: cmd.id, ok: false, error: { stage: 'mkfs', message: 'boom', output: 'details' } })}\n`);
    });
    const channel = await AgentChannel.connect(agent.sock);
    await expect(channel.request({ cmd: 'ping' })).resolves.toEqual({ pong: 1 });
    const err = await channel.request({ cmd: 'poweroff' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).stage).toBe('mkfs');
    expect((err as AgentError).message).toContain('details');
    channel.close();
    agent.close();
  });

  it('reports a malformed or truncated line as a protocol error and keeps going', async () => {
    const agent = await fakeAgent((cmd, s) => {
      s.write('{"t":1,"kind":"reply","id":\n');
      s.write('{"t":1,"kind":"mystery"}\n');
      s.write(`${JSON.stringify({ t: 1, kind: 'reply', id: cmd.id, ok: true, result: null })}\n`);
    });
    const channel = await AgentChannel.connect(agent.sock);
    const errors: ProtocolError[] = [];
    const lines: string[] = [];
    channel.on('protocol-error', (e) => errors.push(e));
    channel.on('line', (l) => lines.push(l));
    await channel.request({ cmd: 'ping' });
    expect(errors).toHaveLength(2);
    expect(errors[0]!.message).toMatch(/not JSON/);
    expect(errors[1]!.message).toMatch(/does not match the protocol/);
    expect(errors[1]!.line).toBe('{"t":1,"kind":"mystery"}');
    // Every line, good or bad, is there for the transcript.
    expect(lines).toHaveLength(3);
    channel.close();
    agent.close();
  });

  it('fails pending requests when the agent goes away', async () => {
    const agent = await fakeAgent((_cmd, s) => s.destroy());
    const channel = await AgentChannel.connect(agent.sock);
    await expect(channel.request({ cmd: 'ping' })).rejects.toThrow(/closed/);
    agent.close();
  });
});

describe('an agent that does not answer', () => {
  it('is could not test (125), not a bug of daxlab; heartbeats are messages like any other', async () => {
    const { classify, EXIT } = await import('../../src/exit.js');
    // Beats, but never answers: a guest too slow for the lab.
    const agent = await fakeAgent((_cmd, s) => s.write(`${JSON.stringify({ t: 1, kind: 'heartbeat', seq: 1, stallMs: 3 })}\n`));
    const channel = await AgentChannel.connect(agent.sock);
    const beats: unknown[] = [];
    channel.on('message', (m) => m.kind === 'heartbeat' && beats.push(m));
    const err = await channel.request({ cmd: 'trace', events: [] }, 300).catch((e: unknown) => e);
    expect(beats).toEqual([{ t: 1, kind: 'heartbeat', seq: 1, stallMs: 3 }]);
    expect(classify(err)).toMatchObject({ code: EXIT.cannotTest, ourBug: false, message: expect.stringMatching(/did not answer "trace" within 300 ms/) });
    channel.close();
    agent.close();
  });
});
