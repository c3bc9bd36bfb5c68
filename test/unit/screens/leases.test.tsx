// A recorded lease break on xfs (a write lease on a MAP_SYNC mapping, a truncating breaker,
// a stubborn holder): BREAKING, the countdown running down to fs.lease-break-time, the
// kernel timing the lease out. The transcript alone: state and timeline, no verdicts.
import { afterEach, describe, expect, it } from 'vitest';
import { ReplayController } from '../../../src/screens/replay.js';
import { leaseRows } from '../../../src/screens/view.js';
import { delay, fixture, renderApp } from './harness.js';

const LEASE = fixture('lease-xfs.jsonl');
let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());

describe('Leases panel (replayed lease-break run)', () => {
  it('counts down while the lease is breaking, from the snapshot on by the guest clock', async () => {
    const c = new ReplayController(LEASE, { paused: true });
    c.runUntil(25.0);
    const app = renderApp(c, 'live');
    cleanup = app.unmount;
    await delay();
    const s1 = app.screen();
    expect(s1).toMatch(/leased\s+UNLCK\s+BREAKING\s+breaks in 3\.\d s/);
    // The agent's own /proc/locks reads contend on file_rwsem: hidden by default, and said so.
    expect(s1).toMatch(/\(\d+ of the agent's own hidden: a\)/);
    expect(s1).not.toContain('contention_begin [daxlab-agent');
    expect(s1).toMatch(/breaker\s+\d+\s+S BLOCKED\s+[\d.]+ s\s+in __break_lease/);
    expect(s1).toContain('__break_lease+0x620');
    const left1 = leaseRows(c.store.state)[0]!.leftMs!;
    c.runUntil(27.0);
    await delay(120);
    const left2 = leaseRows(c.store.state)[0]!.leftMs!;
    expect(left1 - left2).toBeGreaterThan(1800);
    expect(left1 - left2).toBeLessThan(2200);
    expect(app.screen()).toMatch(/BREAKING\s+breaks in 1\.\d s/);
  });

  it("once the kernel timed the lease out the truncate finished: the report's timeline says so", async () => {
    const c = new ReplayController(LEASE, { paused: true });
    c.runToEnd();
    const app = renderApp(c, 'report');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toContain('outcome: no scenario ran: state and timeline only');
    expect(s).toMatch(/breaker: sleeping in __break_lease <- vfs_truncate/);
    expect(s).toMatch(/breaker: truncate -> 0 in 5\.\d s/);
    expect(s).toMatch(/holder: got SIGRTMIN\+1/);
  });
});
