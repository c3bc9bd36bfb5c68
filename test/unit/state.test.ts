import { describe, expect, it } from 'vitest';
import type { ActorState, EventMessage, LockState, PageState, SnapshotMessage } from '../../src/wire/protocol.js';
import { initialState, reduce, reduceAll, type LabState } from '../../src/lab/state.js';
import type { HostMessage } from '../../src/wire/protocol.js';
import { resetSnapSeq, snap } from './messages.js';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const page = (index: number, ref: number, extra: Partial<PageState> = {}): PageState => ({
  file: 'victim',
  index,
  pfn: `0x1002${10 + index}`,
  zoneDevice: true,
  ref,
  idle: 1,
  aboveIdle: ref - 1,
  pins: ref > 1024 ? 1 : 0,
  mapcount: 1,
  flags: [],
  mapping: 'victim',
  pageIndex: index,
  entry: 'unlocked',
  ...extra,
});

const lock = (state: LockState['state'], extra: Partial<LockState> = {}): LockState => ({
  file: 'victim',
  lock: 'invalidate_lock',
  addr: '0xffff888003a1c2d8',
  state,
  readers: 0,
  owner: null,
  waiters: [],
  handoff: false,
  ...extra,
});

const task = (name: string, state: string, wchan: string, extra: Partial<ActorState> = {}): ActorState => ({
  name,
  pid: name === 'puncher' ? 141 : 140,
  state,
  wchan,
  blockedMs: 0,
  stack: [],
  ...extra,
});


const event = (t: number, src: string, name: string, extra: Partial<EventMessage> = {}): EventMessage => ({
  t,
  kind: 'event',
  src,
  name,
  fields: {},
  ...extra,
});

const ready: HostMessage = {
  t: 9.5,
  kind: 'ready',
  release: '6.1.0-56-amd64',
  version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1',
  machine: 'x86_64',
  uptime: { initStart: 0.8, modulesDone: 2.1, agentStart: 9.4 },
  btf: true,
  kcore: true,
};

/** A run with a bit of everything, for purity and determinism checks. */
function sampleRun(): HostMessage[] {
  resetSnapSeq();
  return [
    { kind: 'run-start', t: 0, runId: 'r1', profile: 'default', scenario: 'vmsplice-vs-punch', kernel: 'linux-image-6.1.0-56-amd64' },
    ready,
    { kind: 'command', t: 9.5, id: 7, command: { cmd: 'act', actor: 'holder', op: 'vmsplice', pages: [0] } },
    { t: 10, kind: 'action', id: 7, actor: 'holder', op: 'vmsplice', phase: 'start' },
    { t: 10.01, kind: 'action', id: 7, actor: 'holder', op: 'vmsplice', phase: 'end', ret: 4096, ms: 10 },
    { t: 10.02, kind: 'reply', id: 7, ok: true, result: { ret: 4096 } },
    snap(10.1, {
      pages: [page(0, 2)],
      locks: [lock('free')],
      actors: [task('holder', 'S', 'pipe_wait')],
      vmstat: { nr_foll_pin_acquired: 5, nr_foll_pin_released: 5 },
    }),
    event(10.2, 'lock', 'contention_begin', { lock: 'invalidate_lock of victim' }),
    snap(10.3, {
      pages: [page(0, 2)],
      locks: [lock('write', { owner: { pid: 141, comm: 'puncher' } })],
      actors: [task('holder', 'S', 'pipe_wait'), task('puncher', 'S', 'xfs_break_dax_layouts', { blockedMs: 200, stack: ['xfs_break_dax_layouts+0x8f'] })],
      vmstat: { nr_foll_pin_acquired: 6, nr_foll_pin_released: 5 },
    }),
    { t: 10.4, kind: 'signal', actor: 'holder', pid: 140, signal: 'SIGIO', fd: 3 },
    { kind: 'protocol-error', t: 10.4, message: 'agent sent a line that is not JSON', line: '{"t":10.5,' },
    { t: 10.6, kind: 'actor-exit', actor: 'holder', pid: 140, status: 0 },
    { kind: 'run-end', t: 10.6, status: 'ok', exitCode: 0 },
  ];
}

describe('reducer: kernel, run and time', () => {
  it('keeps kernel facts from ready, the run from run-start/run-end, and the latest t', () => {
    const s = reduceAll(sampleRun());
    expect(s.kernel).toEqual({
      t: 9.5,
      release: '6.1.0-56-amd64',
      version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1',
      machine: 'x86_64',
      uptime: { initStart: 0.8, modulesDone: 2.1, agentStart: 9.4 },
      btf: true,
      kcore: true,
    });
    expect(s.run).toEqual({
      t: 0,
      runId: 'r1',
      profile: 'default',
      scenario: 'vmsplice-vs-punch',
      kernel: 'linux-image-6.1.0-56-amd64',
      end: { t: 10.6, status: 'ok', exitCode: 0 },
    });
    expect(s.lastT).toBe(10.6);
    expect(s.messageCount).toBe(13);
  });

  it('never moves lastT back for a late line', () => {
    const s = reduceAll([event(5, 'fs_dax', 'dax_pmd_fault'), event(4.9, 'fs_dax', 'dax_pmd_fault_done')]);
    expect(s.lastT).toBe(5);
  });
});

describe('reducer: pages and refcount history', () => {
  it('bounds samples and changes, counts what it evicted, and tracks peaks and idleSince', () => {
    resetSnapSeq();
    const refs = [1, 1, 2, 2, 1025, 1025, 1, 1];
    const s = reduceAll(
      refs.map((ref, i) => snap(i + 1, { pages: [page(0, ref)] })),
      initialState({ refSamples: 5, refChanges: 3 }),
    );
    const h = s.refHistory['victim#0']!;
    expect(h.samples.map((x) => x.t)).toEqual([4, 5, 6, 7, 8]);
    expect(h.samples.map((x) => x.ref)).toEqual([2, 1025, 1025, 1, 1]);
    expect(h.evictedSamples).toBe(3);
    // Changes: 1 (first), 2, 1025, 1 -> the first fell off.
    expect(h.changes.map((x) => [x.t, x.ref, x.pins])).toEqual([
      [3, 2, 0],
      [5, 1025, 1],
      [7, 1, 0],
    ]);
    expect(h.evictedChanges).toBe(1);
    expect(h.peakAboveIdle).toBe(1024);
    expect(h.peakPins).toBe(1);
    expect(h.idleSince).toBe(7);
    expect(h.firstSeen).toBe(1);
    expect(h.lastSeen).toBe(8);
  });

  it('keeps aboveIdle and pins as the agent sent them', () => {
    resetSnapSeq();
    const s = reduce(initialState(), snap(1, { pages: [page(0, 2, { aboveIdle: 7, pins: 3 })] }));
    expect(s.pages['victim#0']).toMatchObject({ key: 'victim#0', t: 1, ref: 2, aboveIdle: 7, pins: 3 });
    expect(s.refHistory['victim#0']!.samples).toEqual([{ t: 1, ref: 2, aboveIdle: 7, pins: 3 }]);
    expect(s.refHistory['victim#0']!.idleSince).toBeNull();
  });

  it('shows only the latest snapshot in pages but keeps the history of a page that left', () => {
    resetSnapSeq();
    const s = reduceAll([snap(1, { pages: [page(0, 2), page(1, 1)] }), snap(2, { pages: [page(1, 1)] })]);
    expect(Object.keys(s.pages)).toEqual(['victim#1']);
    expect(s.refHistory['victim#0']!.lastSeen).toBe(1);
    expect(s.refHistory['victim#0']!.samples).toHaveLength(1);
  });
});

describe('reducer: snapshots', () => {
  it('computes vmstat deltas from each counter’s first value', () => {
    resetSnapSeq();
    const s = reduceAll([
      snap(1, { vmstat: { nr_foll_pin_acquired: 10, nr_foll_pin_released: 10 } }),
      snap(2, { vmstat: { nr_foll_pin_acquired: 12, nr_foll_pin_released: 10, nr_dirty: 4 } }),
      snap(3, { vmstat: { nr_foll_pin_acquired: 14, nr_foll_pin_released: 11, nr_dirty: 7 } }),
    ]);
    expect(s.vmstat.baseline).toEqual({ nr_foll_pin_acquired: 10, nr_foll_pin_released: 10, nr_dirty: 4 });
    expect(s.vmstat.delta).toEqual({ nr_foll_pin_acquired: 4, nr_foll_pin_released: 1, nr_dirty: 3 });
    expect(s.vmstat.latest.nr_foll_pin_acquired).toBe(14);
  });

  it('keeps the agent’s drop counters and counts seq gaps as missed snapshots', () => {
    const base = snap(0);
    const s = reduceAll([
      { ...base, t: 1, seq: 1 },
      { ...base, t: 2, seq: 2 },
      { ...base, t: 3, seq: 6, dropped: { events: 12, snapshots: 3 }, costUs: 850 },
    ]);
    expect(s.missedSnapshots).toBe(3);
    expect(s.dropped).toEqual({ events: 12, snapshots: 3 });
    expect(s.snapshot).toEqual({ seq: 6, t: 3, costUs: 850 });
    expect(s.snapshotCount).toBe(3);
  });

  it('records actor state transitions and the time the actor entered its state', () => {
    resetSnapSeq();
    const s = reduceAll(
      [
        snap(1, { actors: [task('puncher', 'R', '0')] }),
        snap(2, { actors: [task('puncher', 'S', 'xfs_break_dax_layouts', { blockedMs: 3 })] }),
        snap(3, { actors: [task('puncher', 'S', 'xfs_break_dax_layouts', { blockedMs: 1003, stack: ['xfs_break_dax_layouts+0x8f'] })] }),
        snap(4, { actors: [task('puncher', 'S', 'xfs_break_dax_layouts', { blockedMs: 2003 })] }),
        snap(5, { actors: [task('puncher', 'D', 'xfs_ilock')] }),
      ],
      initialState({ actorHistory: 2 }),
    );
    const a = s.actors.puncher!;
    expect(a.stateSince).toBe(5);
    expect(a.history.map((h) => [h.t, h.state, h.wchan])).toEqual([
      [2, 'S', 'xfs_break_dax_layouts'],
      [5, 'D', 'xfs_ilock'],
    ]);
    expect(a.evictedHistory).toBe(1);
    expect(a.task?.blockedMs).toBe(0);

    const mid = reduceAll([snap(6, { actors: [task('puncher', 'S', 'x')] }), snap(7, { actors: [task('puncher', 'S', 'x', { blockedMs: 812 })] })]);
    expect(mid.actors.puncher!.stateSince).toBe(6);
    expect(mid.actors.puncher!.task!.blockedMs).toBe(812); // as sent

    const gone = reduce(mid, snap(8));
    expect(gone.actors.puncher!.task).toBeNull();
    expect(gone.actors.puncher!.stateSince).toBe(8);
    expect(gone.actors.puncher!.history.at(-1)).toEqual({ t: 8, state: 'gone', wchan: '', stack: [] });
    // Gone stays gone: no new transition for each further snapshot.
    expect(reduce(gone, snap(9)).actors.puncher!.history).toHaveLength(2);
  });

  it('records lock transitions only, and when each lock entered its state', () => {
    resetSnapSeq();
    const owner = { pid: 141, comm: 'puncher' };
    const waiter = { pid: 140, comm: 'holder', type: 'read' as const };
    const s = reduceAll([
      snap(1, { locks: [lock('free')] }),
      snap(2, { locks: [lock('free')] }),
      snap(3, { locks: [lock('write', { owner })] }),
      snap(4, { locks: [lock('write', { owner, waiters: [waiter] })] }),
      snap(5, { locks: [lock('write', { owner, waiters: [waiter] })] }),
    ]);
    const key = 'victim:invalidate_lock';
    expect(s.locks[key]).toMatchObject({ state: 'write', t: 5, since: 4 });
    expect(s.lockHistory[key]!.transitions.map((tr) => [tr.t, tr.state, tr.owner?.pid ?? null, tr.waiters.length])).toEqual([
      [1, 'free', null, 0],
      [3, 'write', 141, 0],
      [4, 'write', 141, 1],
    ]);
    const freed = reduce(s, snap(6, { locks: [lock('free')] }));
    expect(freed.locks[key]!.since).toBe(6);
    expect(freed.lockHistory[key]!.transitions).toHaveLength(4);

    const bounded = reduceAll(
      [1, 2, 3, 4, 5].map((t) => snap(t, { locks: [lock(t % 2 ? 'free' : 'read', { readers: t % 2 ? 0 : 1 })] })),
      initialState({ lockTransitions: 2 }),
    );
    expect(bounded.lockHistory[key]!.transitions.map((tr) => tr.t)).toEqual([4, 5]);
    expect(bounded.lockHistory[key]!.evictedTransitions).toBe(3);
  });
});

describe('reducer: events', () => {
  it('bounds the event log, counts evictions, and counts by src:name and by lock', () => {
    const s = reduceAll(
      [
        event(1, 'lock', 'contention_begin', { lock: 'invalidate_lock of victim' }),
        event(2, 'lock', 'contention_end', { lock: 'invalidate_lock of victim' }),
        event(3, 'filelock', 'break_lease_block'),
        event(4, 'lock', 'contention_begin', { lock: 'i_rwsem of victim' }),
        event(5, 'lock', 'contention_begin', { lock: 'invalidate_lock of victim' }),
      ],
      initialState({ events: 3 }),
    );
    expect(s.events.map((e) => e.t)).toEqual([3, 4, 5]);
    expect(s.evictedEvents).toBe(2);
    expect(s.eventCount).toBe(5);
    expect(s.eventCounts).toEqual({ 'lock:contention_begin': 3, 'lock:contention_end': 1, 'filelock:break_lease_block': 1 });
    expect(s.contention['invalidate_lock of victim']).toEqual({ count: 3, byName: { contention_begin: 2, contention_end: 1 }, lastT: 5 });
    expect(s.contention['i_rwsem of victim']!.count).toBe(1);
  });
});

describe('reducer: actions, signals, exits, commands, protocol errors', () => {
  it('merges an action’s start and end and keeps the actor’s last action', () => {
    const s = reduceAll([
      { t: 1, kind: 'action', id: 3, actor: 'holder', op: 'mmap', phase: 'start' },
      { t: 1.1, kind: 'action', id: 3, actor: 'holder', op: 'mmap', phase: 'end', ret: 0, ms: 100, result: { addr: '0x7f0000000000' } },
      { t: 2, kind: 'action', id: 4, actor: 'holder', op: 'touch', phase: 'start' },
      { t: 2.5, kind: 'action', id: 4, actor: 'holder', op: 'touch', phase: 'end', ret: -1, signal: 'SIGBUS', ms: 500 },
      { t: 3, kind: 'action', id: 5, actor: 'ring', op: 'io_uring_register', phase: 'start' },
      { t: 3.1, kind: 'action', id: 5, actor: 'ring', op: 'io_uring_register', phase: 'end', ret: -95, errno: 95, error: 'EOPNOTSUPP' },
      { t: 4, kind: 'action', id: 9, actor: 'late', op: 'drain', phase: 'end', ret: 4096 },
    ]);
    expect(s.actions).toHaveLength(4);
    expect(s.actions[0]).toEqual({ id: 3, actor: 'holder', op: 'mmap', start: 1, end: 1.1, ret: 0, ms: 100, result: { addr: '0x7f0000000000' } });
    expect(s.actors.holder!.lastAction).toEqual({ id: 4, actor: 'holder', op: 'touch', start: 2, end: 2.5, ret: -1, signal: 'SIGBUS', ms: 500 });
    expect(s.actors.holder!.actionCount).toBe(2);
    expect(s.actors.ring!.lastAction).toMatchObject({ error: 'EOPNOTSUPP', errno: 95, end: 3.1 });
    // An end whose start was never seen is kept, with start null.
    expect(s.actors.late!.lastAction).toEqual({ id: 9, actor: 'late', op: 'drain', start: null, end: 4, ret: 4096 });

    const running = reduce(s, { t: 5, kind: 'action', id: 10, actor: 'holder', op: 'sleep', phase: 'start' });
    expect(running.actors.holder!.lastAction).toEqual({ id: 10, actor: 'holder', op: 'sleep', start: 5, end: null });
  });

  it('bounds actions and counts evictions', () => {
    const msgs: HostMessage[] = [1, 2, 3].map((id) => ({ t: id, kind: 'action', id, actor: 'a', op: 'sleep', phase: 'start' }) as const);
    const s = reduceAll(msgs, initialState({ actions: 2 }));
    expect(s.actions.map((a) => a.id)).toEqual([2, 3]);
    expect(s.evictedActions).toBe(1);
  });

  it('keeps signals and exits per actor and in bounded lists', () => {
    const s = reduceAll(
      [
        { t: 1, kind: 'signal', actor: 'holder', pid: 140, signal: 'SIGIO', fd: 3 },
        { t: 2, kind: 'signal', actor: 'holder', pid: 140, signal: 'SIGBUS' },
        { t: 3, kind: 'actor-exit', actor: 'holder', pid: 140, signal: 'SIGBUS' },
      ],
      initialState({ signals: 1 }),
    );
    expect(s.signals.map((x) => x.signal)).toEqual(['SIGBUS']);
    expect(s.evictedSignals).toBe(1);
    expect(s.actors.holder!.signalCount).toBe(2);
    expect(s.actors.holder!.lastSignal?.signal).toBe('SIGBUS');
    expect(s.actors.holder!.exit).toEqual({ t: 3, kind: 'actor-exit', actor: 'holder', pid: 140, signal: 'SIGBUS' });
    expect(s.exits).toHaveLength(1);
  });

  it('pairs commands with their replies, and keeps a reply to an unseen command', () => {
    const s = reduceAll([
      { kind: 'command', t: 1, id: 1, command: { cmd: 'ping' } },
      { kind: 'command', t: 1, id: 2, command: { cmd: 'observe', hz: 50 } },
      { t: 1.2, kind: 'reply', id: 2, ok: false, error: { stage: 'observe', message: 'no tracefs' } },
      { t: 1.3, kind: 'reply', id: 1, ok: true, result: { pong: 1 } },
      { t: 1.4, kind: 'reply', id: 99, ok: true, result: null },
    ]);
    expect(s.commands).toEqual([
      { id: 1, t: 1, command: { cmd: 'ping' }, reply: { t: 1.3, ok: true, result: { pong: 1 } } },
      { id: 2, t: 1, command: { cmd: 'observe', hz: 50 }, reply: { t: 1.2, ok: false, error: { stage: 'observe', message: 'no tracefs' } } },
      { id: 99, t: null, command: null, reply: { t: 1.4, ok: true, result: null } },
    ]);
  });

  it('keeps protocol errors bounded and clipped, with a total count', () => {
    const long = `{"t":1,${'x'.repeat(50)}`;
    const s = reduceAll(
      [1, 2, 3].map((t) => ({ kind: 'protocol-error', t, message: `bad ${t}`, line: long }) as const),
      initialState({ protocolErrors: 2, protocolErrorLine: 10 }),
    );
    expect(s.protocolErrorCount).toBe(3);
    expect(s.evictedProtocolErrors).toBe(1);
    expect(s.protocolErrors.map((e) => e.message)).toEqual(['bad 2', 'bad 3']);
    expect(s.protocolErrors[0]).toMatchObject({ line: '{"t":1,xxx', lineLength: long.length });
  });
});

describe('reducer purity', () => {
  it('never mutates its inputs or the previous state, and folds to deep-equal states', () => {
    const messages = deepFreeze(sampleRun());
    const before = JSON.stringify(messages);
    let state: LabState = deepFreeze(initialState({ refSamples: 2, events: 1, actorHistory: 1 }));
    const states: LabState[] = [state];
    for (const m of messages) {
      // Frozen previous states: any in-place update would throw (ES modules are strict).
      state = deepFreeze(reduce(state, m));
      states.push(state);
    }
    expect(JSON.stringify(messages)).toBe(before);
    const again = reduceAll(sampleRun(), initialState({ refSamples: 2, events: 1, actorHistory: 1 }));
    expect(again).toEqual(state);
    expect(JSON.parse(JSON.stringify(again))).toEqual(JSON.parse(JSON.stringify(state)));
    // An earlier state is unchanged by what came after it.
    expect(states[1]!.run).toEqual({ t: 0, runId: 'r1', profile: 'default', scenario: 'vmsplice-vs-punch', kernel: 'linux-image-6.1.0-56-amd64', end: null });
    // states[7] is the state after messages[6], the first snapshot.
    expect(states[7]!.snapshot?.seq).toBe(1);
    expect(states[7]!.locks['victim:invalidate_lock']!.state).toBe('free');
    expect(state.locks['victim:invalidate_lock']!.state).toBe('write');
    expect(state.contention['invalidate_lock of victim']!.count).toBe(1);
    expect(state.vmstat.delta).toEqual({ nr_foll_pin_acquired: 1, nr_foll_pin_released: 0 });
  });
});
