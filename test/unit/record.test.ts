import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stateFromTranscript } from '../../src/lab/record.js';
import { initialState, reduce, type LabState } from '../../src/lab/state.js';
import type { HostMessage } from '../../src/wire/protocol.js';
import { attachRecorder, followChannel, replayTranscript, TranscriptRecorder } from '../../src/wire/transcript.js';
import { AgentChannel } from '../../src/vm/channel.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-record-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (name: string) => path.join(dir, `${++n}-${name}`);

/** What a fake agent says when pinged: good lines, a malformed one and a cut one, then the reply. */
function agentLines(id: number): string[] {
  const page = (ref: number) => ({
    file: 'victim', index: 0, pfn: '0x100218', zoneDevice: true, ref, idle: 1, aboveIdle: ref - 1,
    pins: 0, mapcount: 1, flags: ['uptodate'], mapping: 'victim', pageIndex: 0, entry: 'unlocked',
  });
  const snap = (t: number, seq: number, ref: number, state: string) =>
    JSON.stringify({
      t, kind: 'snapshot', seq, pages: [page(ref)],
      locks: [{ file: 'victim', lock: 'invalidate_lock', addr: '0xffff', state: 'free', readers: 0, owner: null, waiters: [], handoff: false }],
      actors: [{ name: 'puncher', pid: 141, state, wchan: 'xfs_break_dax_layouts', blockedMs: 5, stack: ['xfs_break_dax_layouts+0x8f'] }],
      leases: [], vmstat: { nr_foll_pin_acquired: seq, nr_foll_pin_released: 0 }, dropped: { events: 0, snapshots: 0 },
    });
  return [
    JSON.stringify({ t: 9.5, kind: 'ready', release: '6.1.0-56-amd64', version: '#1', machine: 'x86_64', uptime: { initStart: 1, modulesDone: 2, agentStart: 3 }, btf: true, kcore: true }),
    JSON.stringify({ t: 10, kind: 'action', id: 3, actor: 'holder', op: 'vmsplice', phase: 'start' }),
    snap(10.1, 1, 2, 'R'),
    '{"t":10.15,"kind":"mystery"}', // valid JSON, not protocol
    JSON.stringify({ t: 10.2, kind: 'action', id: 3, actor: 'holder', op: 'vmsplice', phase: 'end', ret: 4096, ms: 200 }),
    '{"t":10.25,"kind":"snapshot","seq":2,"pages":[{"file":"vic', // cut mid-line (agent restarted)
    snap(10.3, 3, 2, 'S'),
    JSON.stringify({ t: 10.35, kind: 'event', src: 'lock', name: 'contention_begin', fields: { flags: 2 }, lock: 'invalidate_lock of victim', note: 'unknown keys are stripped' }),
    JSON.stringify({ t: 10.4, kind: 'reply', id, ok: true, result: { pong: id, text: 'quotes " and \\ and ünïcode' } }),
  ];
}

async function fakeAgent(): Promise<{ sock: string; close: () => void }> {
  const sock = path.join(dir, `agent-${++n}.sock`);
  const server = net.createServer((socket) => {
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const cmd = JSON.parse(buf.slice(0, nl)) as { id: number };
        buf = buf.slice(nl + 1);
        socket.write(agentLines(cmd.id).map((l) => `${l}\n`).join(''));
      }
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  return { sock, close: () => server.close() };
}

/** A live run against the fake agent: the messages and state the live path produced, and the transcript. */
async function liveRun(file: string) {
  const agent = await fakeAgent();
  const channel = await AgentChannel.connect(agent.sock);
  const recorder = TranscriptRecorder.open(file);
  const live: HostMessage[] = [];
  let state: LabState = initialState();
  const feed = followChannel(channel, {
    recorder,
    dispatch: (m) => {
      live.push(m);
      state = reduce(state, m);
    },
  });
  feed.note({ kind: 'run-start', runId: 'run-1', profile: 'default', scenario: 'vmsplice-vs-punch', kernel: 'linux-image-6.1.0-56-amd64' });
  await channel.request({ cmd: 'ping' });
  feed.note({ kind: 'run-end', status: 'ok', exitCode: 0 });
  feed.detach();
  recorder.close();
  channel.close();
  agent.close();
  return { live, state, recorder };
}

describe('transcript format', () => {
  it('writes a header, raw agent lines exactly as received and host notes, one JSON record a line', () => {
    const file = tmp('format.jsonl');
    let clock = 1000;
    const rec = TranscriptRecorder.open(file, { clock: () => clock, wall: '2026-11-21T11:40:00.000Z' });
    clock = 1012.345;
    rec.agent('{"t":1,"kind":"reply","id":');
    rec.host({ kind: 'command', t: 0, id: 1, command: { cmd: 'ping' } });
    rec.close();
    expect(fs.readFileSync(file, 'utf8')).toBe(
      '{"dir":"meta","format":"daxlab-transcript","version":1,"wall":"2026-11-21T11:40:00.000Z"}\n' +
        '{"dir":"agent","ms":12.3,"line":"{\\"t\\":1,\\"kind\\":\\"reply\\",\\"id\\":"}\n' +
        '{"dir":"host","ms":12.3,"msg":{"kind":"command","t":0,"id":1,"command":{"cmd":"ping"}}}\n',
    );
    expect(rec.records).toBe(3);
    expect(rec.bytes).toBe(fs.statSync(file).size);
  });

  it('never throws after close; it counts what it could not write', () => {
    const file = tmp('closed.jsonl');
    const rec = TranscriptRecorder.open(file);
    rec.close();
    rec.close();
    rec.agent('{}');
    expect(rec.unwritten).toBe(1);
    expect(rec.closed).toBe(true);
    expect(fs.readFileSync(file, 'utf8').split('\n')).toHaveLength(2);
  });

  // What a line costs is measured by `npm run bench record`, not here.
  it('writes a stream of snapshot-sized lines whole: a record each, in order, every byte counted', () => {
    const file = tmp('rate.jsonl');
    let clock = 0;
    const rec = TranscriptRecorder.open(file, { clock: () => clock });
    const lines = Array.from({ length: 1000 }, (_, i) => `${agentLines(1)[2]!.slice(0, -1)},"n":${i}}`.padEnd(4096, ' '));
    for (const line of lines) {
      clock += 20; // 50 Hz
      rec.agent(line);
    }
    rec.close();
    expect(rec.records).toBe(1001);
    expect(rec.unwritten).toBe(0);
    expect(rec.error).toBeNull();
    expect(rec.bytes).toBe(fs.statSync(file).size);
    const records = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { dir: string; ms?: number; line?: string });
    expect(records[0]!.dir).toBe('meta');
    expect(records.slice(1).map((r) => r.line)).toEqual(lines);
    expect(records.slice(1).map((r) => r.ms)).toEqual(lines.map((_, i) => (i + 1) * 20));
  });
});

describe('recording a live channel and replaying it', () => {
  it('replays into the same messages and the same state as the live run', async () => {
    const file = tmp('live.jsonl');
    const { live, state } = await liveRun(file);

    // The live run saw both bad lines as protocol errors, stamped with the last good t.
    expect(state.protocolErrorCount).toBe(2);
    expect(state.protocolErrors.map((e) => [e.t, e.line])).toEqual([
      [10.1, agentLines(1)[3]],
      [10.2, agentLines(1)[5]],
    ]);
    expect(state.protocolErrors[0]!.message).toMatch(/does not match the protocol/);
    expect(state.protocolErrors[1]!.message).toMatch(/not JSON/);
    // The ping went out before the agent said anything: t 0.
    expect(state.commands).toEqual([
      { id: 1, t: 0, command: { cmd: 'ping' }, reply: { t: 10.4, ok: true, result: { pong: 1, text: 'quotes " and \\ and ünïcode' } } },
    ]);
    expect(state.run).toMatchObject({ runId: 'run-1', profile: 'default', end: { status: 'ok', t: 10.4 } });
    expect(state.snapshotCount).toBe(2);
    expect(state.missedSnapshots).toBe(1);
    expect(state.actors.puncher!.stateSince).toBe(10.3);
    expect(state.actors.holder!.lastAction).toEqual({ id: 3, actor: 'holder', op: 'vmsplice', start: 10, end: 10.2, ret: 4096, ms: 200 });
    expect(live.map((m) => m.kind)).toEqual([
      'run-start', 'command', 'ready', 'action', 'snapshot', 'protocol-error', 'action', 'protocol-error', 'snapshot', 'event', 'reply', 'run-end',
    ]);

    // Every raw line is in the transcript, the bad ones included.
    const records = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { dir: string; line?: string });
    expect(records.filter((r) => r.dir === 'agent').map((r) => r.line)).toEqual(agentLines(1));
    expect(records.filter((r) => r.dir === 'host')).toHaveLength(5); // run-start, command, 2 protocol errors, run-end

    const replay = replayTranscript(file);
    expect(replay.problems).toEqual([]);
    expect(replay.header).toMatchObject({ format: 'daxlab-transcript', version: 1 });
    expect(replay.messages).toEqual(live);
    expect(replay.entries.every((e, i) => i === 0 || e.ms >= replay.entries[i - 1]!.ms)).toBe(true);

    const replayed = stateFromTranscript(file);
    expect(replayed.problems).toEqual([]);
    expect(replayed.state).toEqual(state);
  });

  it('attachRecorder records without dispatching anywhere', async () => {
    const file = tmp('attach.jsonl');
    const agent = await fakeAgent();
    const channel = await AgentChannel.connect(agent.sock);
    const recorder = TranscriptRecorder.open(file);
    const feed = attachRecorder(channel, recorder);
    await channel.request({ cmd: 'ping' });
    feed.detach();
    await channel.request({ cmd: 'ping' }); // not recorded
    recorder.close();
    channel.close();
    agent.close();
    const { messages } = replayTranscript(file);
    expect(messages.filter((m) => m.kind === 'command')).toEqual([{ kind: 'command', t: 0, id: 1, command: { cmd: 'ping' } }]);
    expect(messages.filter((m) => m.kind === 'reply')).toHaveLength(1);
  });

  it('reports a transcript cut mid-line as truncated and replays everything before it', async () => {
    const file = tmp('cut.jsonl');
    const { live, state } = await liveRun(file);
    const whole = fs.readFileSync(file);
    // The writer died in the middle of one more record.
    const extra = Buffer.from(`${JSON.stringify({ dir: 'agent', ms: 99, line: agentLines(1)[2] })}\n`);
    const cut = tmp('cut2.jsonl');
    fs.writeFileSync(cut, Buffer.concat([whole, extra.subarray(0, 40)]));
    const lineCount = whole.toString().split('\n').length; // the cut line's number

    const replay = replayTranscript(cut);
    expect(replay.problems).toEqual([
      { lineNo: lineCount, kind: 'truncated', detail: 'the last line is cut after 40 bytes (the writer stopped mid-line)', text: extra.subarray(0, 40).toString() },
    ]);
    expect(replay.messages).toEqual(live);
    const replayed = stateFromTranscript(cut);
    expect(replayed.state).toEqual(state);
    expect(replayed.problems.map((p) => p.kind)).toEqual(['truncated']);
  });

  it('reports a corrupt line in the middle and goes on', () => {
    const file = tmp('corrupt.jsonl');
    const rec = TranscriptRecorder.open(file);
    rec.agent(JSON.stringify({ t: 1, kind: 'signal', actor: 'holder', pid: 140, signal: 'SIGIO' }));
    rec.close();
    fs.appendFileSync(file, 'garbage\n{"dir":"host","ms":1,"msg":{"kind":"run-end"}}\n');
    fs.appendFileSync(file, `${JSON.stringify({ dir: 'agent', ms: 2, line: JSON.stringify({ t: 2, kind: 'signal', actor: 'holder', pid: 140, signal: 'SIGBUS' }) })}\n`);
    const replay = replayTranscript(file);
    expect(replay.problems.map((p) => [p.lineNo, p.kind])).toEqual([
      [3, 'corrupt'],
      [4, 'corrupt'],
    ]);
    expect(replay.problems[1]!.detail).toMatch(/msg\.t/);
    const { state } = stateFromTranscript(file);
    expect(state.actors.holder!.signalCount).toBe(2);
  });

  it('replays a recorded protocol error that was not derived from the line before it', () => {
    const file = tmp('host-error.jsonl');
    const rec = TranscriptRecorder.open(file);
    rec.agent('not json');
    rec.host({ kind: 'protocol-error', t: 0, message: 'agent sent a line that is not JSON (whatever)', line: 'not json' });
    rec.host({ kind: 'protocol-error', t: 0, message: 'something host-side', line: 'other' });
    rec.close();
    const { messages } = replayTranscript(file);
    expect(messages.map((m) => (m.kind === 'protocol-error' ? m.line : m.kind))).toEqual(['not json', 'other']);
  });

  it('throws for a file that is not a transcript; an empty one is reported', () => {
    const notOne = tmp('other.jsonl');
    fs.writeFileSync(notOne, '{"t":1,"kind":"ready"}\n');
    expect(() => replayTranscript(notOne)).toThrow(/not a daxlab transcript/);
    const newer = tmp('newer.jsonl');
    fs.writeFileSync(newer, '{"dir":"meta","format":"daxlab-transcript","version":2}\n');
    expect(() => replayTranscript(newer)).toThrow(/version 2/);
    const empty = tmp('empty.jsonl');
    fs.writeFileSync(empty, '');
    expect(replayTranscript(empty).problems).toEqual([{ lineNo: 0, kind: 'empty', detail: 'the transcript has no header', text: '' }]);
  });
});
