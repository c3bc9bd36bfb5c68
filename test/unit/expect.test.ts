// Expectations over the lab state, evaluated purely from messages: the same folds give the
// same verdicts live and on replay.
import { describe, expect, it } from 'vitest';
import { contextEvidence, evaluate, hangCheck, type EvalContext } from '../../src/lab/expect.js';
import { eventObservability } from '../../src/lab/era.js';
import type { ActionMessage, ActorState, EventMessage, PageState, SnapshotMessage } from '../../src/wire/protocol.js';
import { predicateSchema, type PredicateInput } from '../../src/lab/scenario.js';
import { reduceAll, type LabState } from '../../src/lab/state.js';
import type { HostMessage } from '../../src/wire/protocol.js';
import { snap } from './messages.js';

const page = (ref: number, extra: Partial<PageState> = {}): PageState => ({
  file: 'victim',
  index: 0,
  pfn: '0x100210',
  zoneDevice: true,
  ref,
  idle: 1,
  aboveIdle: ref - 1,
  pins: 0,
  mapcount: 0,
  flags: [],
  mapping: 'victim',
  pageIndex: 0,
  entry: 'unlocked',
  ...extra,
});
const sleeping = (blockedMs: number, fn = 'xfs_break_dax_layouts+0x8d [xfs]'): ActorState => ({
  name: 'truncator',
  pid: 129,
  state: 'S',
  wchan: fn.split('+')[0]!,
  blockedMs,
  stack: [fn, 'xfs_break_layouts+0x4a [xfs]', 'xfs_vn_setattr+0x69 [xfs]'],
});
const act = (t: number, id: number, actor: string, op: string, phase: 'start' | 'end', extra: Partial<ActionMessage> = {}): ActionMessage => ({
  t,
  kind: 'action',
  id,
  actor,
  op,
  phase,
  ...extra,
});

function ctx(state: LabState, over: Partial<EvalContext> = {}): EvalContext {
  return {
    state,
    now: state.lastT ?? 0,
    start: 0,
    stepStart: 0,
    stepBegan: () => null,
    stepId: 'x',
    stepAction: () => null,
    stepEnd: () => null,
    before: () => undefined,
    subject: (actor) => state.actors[actor]?.lastAction ?? null,
    vars: { 'lease-break-time': 5 },
    dataChecks: [],
    conditions: { fs: 'xfs', release: '6.1.0-56-amd64', available: { devdax: true, rdma: true, nullBlk: true }, busy: () => false, succeeded: () => true, failed: () => false },
    ...over,
  };
}
const p = (input: PredicateInput) => predicateSchema.parse(input);

/** The dma-vs-truncate shape: I/O holds the page, truncate sleeps, the reference goes, no wake-up. */
function missedWakeup(until: number): HostMessage[] {
  const m: HostMessage[] = [
    snap(10.0, { pages: [page(1)] }),
    act(10.1, 7, 'truncator', 'truncate', 'start'),
    snap(10.2, { pages: [page(2)], actors: [sleeping(50)] }),
    snap(12.0, { pages: [page(2)], actors: [sleeping(1850)] }),
    snap(12.1, { pages: [page(1)], actors: [sleeping(1950)] }),
  ];
  for (let t = 12.2; t <= until; t += 0.1) m.push(snap(Math.round(t * 10) / 10, { pages: [page(1)], actors: [sleeping(Math.round((t - 10.15) * 1000))] }));
  return m;
}

describe('the wake-up check (2022 thread)', () => {
  const check = p({ check: 'finishes', actor: 'truncator', within: '2s', after: { pageIdle: 'victim#0' } });

  it('is pending while the bound has not passed, violated with the evidence after it', () => {
    const early = reduceAll(missedWakeup(13.5));
    expect(evaluate(check, ctx(early, { start: 12.05 })).status).toBe('pending');
    const late = reduceAll(missedWakeup(14.3));
    const o = evaluate(check, ctx(late, { start: 12.05 }));
    expect(o.status).toBe('violated');
    if (o.status !== 'violated') return;
    expect(o.detail).toMatch(/had not returned 2\d\d\d ms after victim#0 came back to its idle refcount \(1\).*S in xfs_break_dax_layouts/);
    const ev = o.evidence as { page: { history: Array<{ t: number; ref: number }>; idleSince: number }; times: { reference: number; deadline: number }; task: { stack: string[]; blockedMs: number } };
    expect(ev.page.history.map((h) => h.ref)).toEqual([1, 2, 1]);
    expect(ev.page.idleSince).toBe(12.1);
    expect(ev.times).toMatchObject({ reference: 12.1, deadline: 14.1 });
    expect(ev.task.stack[0]).toMatch(/xfs_break_dax_layouts/);
    expect(ev.task.blockedMs).toBeGreaterThan(4000);
  });

  it('holds when the truncator returns soon after the page is idle', () => {
    const woken = reduceAll([...missedWakeup(12.3), act(12.35, 7, 'truncator', 'truncate', 'end', { ret: 0, ms: 2250 }), snap(12.4, { pages: [page(1)] })]);
    const o = evaluate(check, ctx(woken, { start: 12.05 }));
    expect(o).toMatchObject({ status: 'held' });
    expect(o.status === 'held' && o.detail).toMatch(/returned 250 ms after victim#0 came back/);
  });

  it('cannot apply when the page never comes back to idle', () => {
    const held = reduceAll([snap(10, { pages: [page(2)] }), act(10.1, 7, 'truncator', 'truncate', 'start'), snap(80, { pages: [page(2)], actors: [sleeping(69900)] })]);
    expect(evaluate(check, ctx(held, { start: 10.2 })).status).toBe('not-applicable');
  });
});

describe('blocked / still-blocked', () => {
  it('blocked: seen asleep in the function within the bound; the stack the kernel gave is the evidence', () => {
    const s = reduceAll(missedWakeup(12.3));
    const o = evaluate(p({ check: 'blocked', actor: 'truncator', in: 'break_(dax_)?layouts', within: '2s' }), ctx(s, { start: 10.1, stepStart: 10.1 }));
    expect(o.status).toBe('held');
    expect(o.status === 'held' && o.detail).toMatch(/asleep \(S\) in xfs_break_dax_layouts\+0x8d \[xfs\] 100 ms after/);
  });

  it('blocked: an action that returned without sleeping there is violated at once', () => {
    const s = reduceAll([snap(1), act(1.1, 3, 'puncher', 'fallocate', 'start'), act(1.104, 3, 'puncher', 'fallocate', 'end', { ret: 0, ms: 4 }), snap(1.2)]);
    const o = evaluate(p({ check: 'blocked', actor: 'puncher', in: 'break_layouts', within: '2s' }), ctx(s, { start: 1.1, stepStart: 1.1 }));
    expect(o.status).toBe('violated');
    expect(o.status === 'violated' && o.detail).toMatch(/returned \(ret 0, 4 ms\) without being seen asleep/);
  });

  it('still-blocked: a punch that had already returned is the finding', () => {
    const s = reduceAll([snap(1), act(1.1, 3, 'puncher', 'fallocate', 'start'), act(1.104, 3, 'puncher', 'fallocate', 'end', { ret: 0 }), snap(1.2)]);
    const o = evaluate(p({ check: 'still-blocked', actor: 'puncher', for: '1s' }), ctx(s, { start: 1.15 }));
    expect(o.status).toBe('violated');
    expect(o.status === 'violated' && o.detail).toMatch(/had already returned \(ret 0\) 46 ms before this check/);
  });
});

describe('page, lock, lease, signal, vmstat, event predicates', () => {
  it('page: rose by the pin bias since the step began (aboveIdle: the LRU batch reference is not counted)', () => {
    const anon = (ref: number, above: number, lruBatch: boolean) => page(ref, { file: 'anon', idle: 0, aboveIdle: above, zoneDevice: false, lruBatch, pins: Math.floor(above / 1024) });
    const before = reduceAll([snap(1, { pages: [anon(2, 1, true)] })]);
    const after = reduceAll([snap(1, { pages: [anon(2, 1, true)] }), snap(2, { pages: [anon(1025, 1025, false)] })]);
    // A raw refcount delta would be 1023 here; references above idle went 1 -> 1025.
    const o = evaluate(p({ check: 'page', page: 'anon#0', rose: { by: 'pin-bias' } }), ctx(after, { before: () => before }));
    expect(o.status).toBe('held');
    expect(evaluate(p({ check: 'page', page: 'anon#0', rose: { by: 1 } }), ctx(after, { before: () => before })).status).toBe('violated');
    expect(evaluate(p({ check: 'page', page: 'anon#0', rose: { by: 1 } }), ctx(after)).status).toBe('not-applicable');
  });

  it('lock: state and owner', () => {
    const s = reduceAll([
      snap(1, {
        actors: [sleeping(10)],
        locks: [
          { file: 'victim', lock: 'i_rwsem', addr: '0x1', state: 'write', readers: 0, owner: { pid: 129, comm: 'truncator' }, waiters: [], handoff: false },
          { file: 'victim', lock: 'invalidate_lock', addr: '0x2', state: 'free', readers: 0, owner: null, waiters: [], handoff: false },
        ],
      }),
    ]);
    expect(evaluate(p({ check: 'lock', lock: 'victim:i_rwsem', state: 'write', owner: 'truncator' }), ctx(s)).status).toBe('held');
    expect(evaluate(p({ check: 'lock', lock: 'victim:invalidate_lock', state: 'free' }), ctx(s)).status).toBe('held');
    const wrong = evaluate(p({ check: 'lock', lock: 'victim:invalidate_lock', state: 'write' }), ctx(s));
    expect(wrong.status === 'violated' && wrong.detail).toMatch(/is free .*expected write/);
  });

  it('lease and signal, within a bound', () => {
    const lease = { file: 'leased', type: 'LEASE', state: 'BREAKING', mode: 'UNLCK', pid: 125, breakLeftMs: 4900, raw: '1: LEASE BREAKING UNLCK 125 fd:00:131 0 EOF' };
    const s = reduceAll([snap(1), { t: 1.01, kind: 'signal', actor: 'holder', pid: 125, signal: 'SIGRTMIN+1', fd: 4 }, snap(1.05, { leases: [lease] })]);
    expect(evaluate(p({ check: 'signal', actor: 'holder', signal: 'SIGRTMIN+1', within: '1s' }), ctx(s, { start: 1.02, stepStart: 1.0 })).status).toBe('held');
    expect(evaluate(p({ check: 'signal', actor: 'holder', signal: 'SIGIO', within: '1s' }), ctx(s, { start: 1.02, stepStart: 1.0 })).status).toBe('pending');
    expect(evaluate(p({ check: 'lease', file: 'leased', state: 'BREAKING' }), ctx(s)).status).toBe('held');
    expect(evaluate(p({ check: 'lease', file: 'leased', state: 'absent' }), ctx(s)).status).toBe('violated');
  });

  it('vmstat: a counter rose by exactly N since the step began', () => {
    const before = reduceAll([snap(1, { vmstat: { nr_foll_pin_acquired: 10, nr_foll_pin_released: 9 } })]);
    const after = reduceAll([snap(1, { vmstat: { nr_foll_pin_acquired: 10 } }), snap(2, { vmstat: { nr_foll_pin_acquired: 11 } })]);
    expect(evaluate(p({ check: 'vmstat', counter: 'nr_foll_pin_acquired', rose: { by: 1 } }), ctx(after, { before: () => before })).status).toBe('held');
    expect(evaluate(p({ check: 'vmstat', counter: 'nr_foll_pin_acquired', rose: { by: 0 } }), ctx(after, { before: () => before })).status).toBe('violated');

    // One pin held while GUP-fast took one and gave it back (7.2 on device-dax): +2 acquired, +1 released.
    const fast = reduceAll([snap(2, { vmstat: { nr_foll_pin_acquired: 12, nr_foll_pin_released: 10 } })]);
    const held = evaluate(p({ check: 'vmstat', counter: 'nr_foll_pin_acquired', less: 'nr_foll_pin_released', rose: { by: 1 } }), ctx(fast, { before: () => before }));
    expect(held).toMatchObject({ status: 'held', detail: 'nr_foll_pin_acquired 10 -> 12 (+2), nr_foll_pin_released 9 -> 10 (+1): net +1' });
    expect(evaluate(p({ check: 'vmstat', counter: 'nr_foll_pin_acquired', rose: { by: 1 } }), ctx(fast, { before: () => before })).status).toBe('violated');
  });

  it('event: fields matched exactly or by "~regex"; seen false holds at the bound', () => {
    const ev = (t: number, page: string): EventMessage => ({ t, kind: 'event', src: 'daxlab', name: 'dax_layout_busy_page_range__return', fields: { page, ref: '2' } });
    const s = reduceAll([snap(1), ev(1.1, '0x0'), ev(1.2, '0xffffea0004008340'), snap(3)]);
    const busy = p({ check: 'event', name: 'busy_page_range__return$', where: { page: '~^0x[0-9a-f]*[1-9a-f]' } });
    expect(evaluate(busy, ctx(s, { start: 1, stepStart: 1 })).status).toBe('held');
    expect(evaluate(p({ check: 'event', name: 'busy', where: { ref: 3 }, seen: false, within: '1s' }), ctx(s, { start: 1, stepStart: 1 })).status).toBe('held');
    expect(evaluate(p({ check: 'event', name: 'busy', where: { page: '0x0' }, seen: false }), ctx(s, { start: 1, stepStart: 1 })).status).toBe('violated');
  });

  it('event: a kprobe this kernel could not take is not applicable, never violated, whatever was (not) seen', () => {
    const s = reduceAll([snap(1), snap(3)]);
    const busy = p({ check: 'event', name: '^dax_layout_busy_page_range__return$' });
    const without = ctx(s, { start: 1, stepStart: 1, observability: (name) => eventObservability(name, { kprobes: ['ext4_break_layouts'], kprobesFailed: ['dax_layout_busy_page_range__return'], kprobeStatus: [{ name: 'dax_layout_busy_page_range__return', function: 'dax_layout_busy_page_range', status: 'unavailable', why: 'no function dax_layout_busy_page_range in /proc/kallsyms' }] }) });
    const o = evaluate(busy, without);
    expect(o.status).toBe('not-applicable');
    expect(o.status !== 'pending' && o.detail).toMatch(/not attached on this kernel \(dax_layout_busy_page_range__return: no function dax_layout_busy_page_range in \/proc\/kallsyms\)/);
    // Placed but silent: the kernel's doing, a finding.
    const placed = ctx(s, { start: 1, stepStart: 1, observability: (name) => eventObservability(name, { kprobes: ['dax_layout_busy_page_range__return'], kprobesFailed: [] }) });
    expect(evaluate(busy, placed).status).toBe('violated');
  });

  it('an expectation whose condition does not hold is not-applicable, with the reason', () => {
    const o = evaluate(p({ check: 'no-data-mismatch', when: { kernel: { from: '6.15' } } }), ctx(reduceAll([snap(1)])));
    expect(o).toMatchObject({ status: 'not-applicable', detail: 'applies from v6.15; this is 6.1.0-56-amd64' });
  });
});

describe('data and hangs', () => {
  it('no-data-mismatch: held when every value is allowed, violated naming the first bad one', () => {
    const ok = { round: 1, actor: 'reader', via: 'mmap' as const, page: 3, got: 7, allowed: [7], ok: true };
    const s = reduceAll([snap(1)]);
    expect(evaluate(p({ check: 'no-data-mismatch' }), ctx(s, { dataChecks: [ok] })).status).toBe('held');
    const bad = { ...ok, got: -1, ok: false };
    const o = evaluate(p({ check: 'no-data-mismatch' }), ctx(s, { dataChecks: [ok, bad] }));
    expect(o.status === 'violated' && o.detail).toMatch(/1 of 2 values read .*round 1, reader page 3 via mmap: got -1, allowed 7/);
    expect(evaluate(p({ check: 'no-data-mismatch' }), ctx(s)).status).toBe('not-applicable');
  });

  it('hangCheck finds the actor asleep longer than the limit; the context carries every stack', () => {
    const s = reduceAll(missedWakeup(14));
    expect(hangCheck(s, 5000, ['truncator'])).toBeNull();
    expect(hangCheck(s, 3000, ['truncator'])).toMatchObject({ actor: 'truncator' });
    const c = contextEvidence(s, ['truncator', 'dma'], 0);
    expect(c.actors[0]).toMatchObject({ actor: 'truncator', state: 'S' });
    expect(c.actors[1]).toMatchObject({ actor: 'dma', seen: false });
    expect(c.pages[0]!.history.map((h) => h.ref)).toEqual([1, 2, 1]);
  });
});
