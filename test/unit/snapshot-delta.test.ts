// Snapshot deltas: the agent sends what changed, the host rebuilds full snapshots before the
// reducer sees them, live (AgentLineDecoder in the channel) and on replay (readTranscript).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentLineDecoder, ProtocolError, type PageState, type SnapshotMessage } from '../../src/wire/protocol.js';
import { readTranscript, TranscriptRecorder } from '../../src/wire/transcript.js';
import { tempDirs } from './tempDirs.js';

const tmp = tempDirs('daxlab-delta-');

const page = (index: number, ref: number, extra: Partial<PageState> = {}): PageState => ({
  file: 'victim',
  index,
  mapped: true,
  pfn: `0x${(0x140000 + index).toString(16)}`,
  addr: '0xffffea0005000000',
  zoneDevice: true,
  ref,
  idle: 1,
  aboveIdle: ref - 1,
  pins: 0,
  mapcount: 0,
  lruBatch: false,
  flags: ['uptodate'],
  mapping: 'victim',
  pageIndex: index,
  entry: 'unlocked',
  pmd: false,
  ...extra,
});

const full: SnapshotMessage = {
  t: 1,
  kind: 'snapshot',
  seq: 7,
  pages: [page(0, 1), page(1, 1, { error: 'kcore short read' })],
  locks: [{ file: 'victim', lock: 'i_rwsem', addr: '0xffff1', state: 'free', readers: 0, owner: null, waiters: [], handoff: false }],
  actors: [{ name: 'holder', pid: 90, state: 'S', wchan: 'do_epoll_wait', blockedMs: 0, stack: ['do_epoll_wait+0x1'] }],
  leases: [],
  vmstat: { nr_foll_pin_acquired: 5, nr_foll_pin_released: 5 },
  dropped: { events: 0, snapshots: 0 },
  costUs: 300,
};
const line = (m: object) => JSON.stringify(m);

describe('snapshot deltas', () => {
  it('patch pages, locks and actors by index and carry every part that did not change', () => {
    const d = new AgentLineDecoder();
    expect(d.decode(line(full))).toEqual(full);
    const next = d.decode(
      line({ t: 1.02, kind: 'snapshot-delta', seq: 8, base: 7, pages: { '0': { ref: 2, aboveIdle: 1 }, '1': { error: null, ref: 3 } }, actors: { '0': { blockedMs: 20 } }, costUs: 80 }),
    ) as SnapshotMessage;
    expect(next.kind).toBe('snapshot');
    expect(next.seq).toBe(8);
    expect(next.t).toBe(1.02);
    expect(next.pages[0]).toEqual(page(0, 2));
    // "error": null removes the error; every other member stays.
    expect(next.pages[1]).toEqual({ ...page(1, 1), ref: 3 });
    expect('error' in next.pages[1]!).toBe(false);
    expect(next.locks).toEqual(full.locks);
    expect(next.actors[0]).toEqual({ ...full.actors[0], blockedMs: 20 });
    expect(next.vmstat).toEqual(full.vmstat);
    expect(next.dropped).toEqual(full.dropped);
    expect(next.costUs).toBe(80);
    // an array replaces the list (an actor came or went)
    const third = d.decode(line({ t: 1.04, kind: 'snapshot-delta', seq: 9, base: 8, actors: [], vmstat: { nr_foll_pin_acquired: 9, nr_foll_pin_released: 5 } })) as SnapshotMessage;
    expect(third.actors).toEqual([]);
    expect(third.vmstat.nr_foll_pin_acquired).toBe(9);
    expect(third.pages).toEqual(next.pages);
    // the earlier snapshots the decoder returned are not changed by later deltas
    expect(full.pages[0]!.ref).toBe(1);
    expect(next.pages[0]!.ref).toBe(2);
  });

  it('refuses a delta that does not follow the snapshot it names, or patches what is not there', () => {
    const d = new AgentLineDecoder();
    expect(() => d.decode(line({ t: 1, kind: 'snapshot-delta', seq: 8, base: 7 }))).toThrow(/before any full snapshot/);
    d.decode(line(full));
    expect(() => d.decode(line({ t: 1, kind: 'snapshot-delta', seq: 9, base: 8 }))).toThrow(ProtocolError);
    expect(() => d.decode(line({ t: 1, kind: 'snapshot-delta', seq: 8, base: 7, pages: { '2': { ref: 1 } } }))).toThrow(/patches page 2, but the snapshot before it has 2/);
    expect(() => d.decode(line({ t: 1, kind: 'snapshot-delta', seq: 8, base: 7, pages: { '0': { ref: 'two' } } }))).toThrow(/does not match the protocol/);
  });

  it('replays a transcript of deltas into the full snapshots the live channel made; a transcript of full snapshots as before', () => {
    const dir = tmp();
    const file = path.join(dir, 't.jsonl');
    const rec = TranscriptRecorder.open(file);
    const lines = [line(full), line({ t: 1.02, kind: 'snapshot-delta', seq: 8, base: 7, pages: { '0': { ref: 2, aboveIdle: 1 } } }), line({ ...full, seq: 9, t: 1.04 })];
    for (const l of lines) rec.agent(l);
    rec.close();
    const live = new AgentLineDecoder();
    const expected = lines.map((l) => live.decode(l));
    const replayed = [...readTranscript(file)].flatMap((item) => (item.type === 'message' ? [item.message] : []));
    expect(replayed).toEqual(expected);
    expect((replayed[1] as SnapshotMessage).pages[0]!.ref).toBe(2);
  });
});
