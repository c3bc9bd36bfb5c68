// The live dashboard fed by a recorded self-test run on xfs (6.1): what the user sees.
import { afterEach, describe, expect, it } from 'vitest';
import { ReplayController } from '../../../src/screens/replay.js';
import { delay, fixture, KEY, renderApp, replayed } from './harness.js';

const SELFTEST = fixture('selftest-xfs.jsonl');
let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());

describe('Live dashboard (replayed self-test transcript)', () => {
  it('shows the pages with refcounts, the blocked truncator and its stack, the locks and the events', async () => {
    const app = renderApp(replayed(SELFTEST), 'live');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toContain('6.1.0-56-amd64');
    expect(s).toContain('replay 1x END 214/214');
    // victim#0 ended one above idle (the second vmsplice), its history went 1..2; the
    // anon pages were pinned by io_uring (1025) and are back at 1.
    expect(s).toMatch(/victim#0\s+0x100218\s+2\s+\+1\s+0\s+0 unlocked/);
    expect(s).toMatch(/anon#0\s+0x1e7b\s+1\s+0\s+0\s+1 n\/a .* 1\.\.1025/);
    expect(s).toContain('nr_foll_pin acquired +4 released +4');
    // The truncator sleeps in xfs_break_dax_layouts, and the panel shows its stack.
    expect(s).toMatch(/truncator\s+122\s+S BLOCKED\s+996 ms\s+in xfs_break_dax_layouts/);
    expect(s).toContain('xfs_break_dax_layouts+0x8d [xfs]');
    expect(s).toContain('xfs_vn_setattr+0x69 [xfs]');
    expect(s).toMatch(/victim:i_rwsem\s+write\s+by truncator\(122\)/);
    expect(s).toContain('truncator: truncate → 0 in 1.1 s');
    expect(s).toContain('msgs 214 · snapshots 19');
    expect(s).toContain('agent dropped 0 events 0 snapshots');
    // At most 30 lines, none wider than the terminal.
    const lines = s.split('\n');
    expect(lines.length).toBeLessThan(30);
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(100);
  });

  it('filters the event log by kind (f) and by text (/)', async () => {
    const app = renderApp(replayed(SELFTEST), 'live');
    cleanup = app.unmount;
    await delay();
    expect(app.screen()).toMatch(/\[all\] \(\d+ of the agent's own hidden: a\) action 13 · daxlab 31 · fs_dax 13 · lock 38/);
    await app.press('f'); // all -> action
    let s = app.screen();
    expect(s).toContain('[action]');
    expect(s).toContain('holder: drain → 4096');
    expect(s).not.toContain('dax_writeback_one');
    await app.press('f', 'f', 'f', 'f'); // -> signal? kinds with a count only: action, daxlab, fs_dax, lock
    await app.press('/', 'b', 'u', 's', 'y');
    s = app.screen();
    expect(s).toContain('filter events: busy');
    expect(s).toContain('dax_layout_busy_page_range__return');
    expect(s).not.toContain('dax_writeback_one');
    // While typing, q and esc belong to the filter, not to the app.
    await app.press(KEY.esc);
    s = app.screen();
    expect(s).not.toContain('filter events:');
    expect(s).toContain('dax_writeback_one');
  });

  it('opens the help overlay with ? and closes it with any key', async () => {
    const app = renderApp(replayed(SELFTEST), 'live');
    cleanup = app.unmount;
    await delay();
    await app.press('?');
    expect(app.screen()).toContain('Help — live');
    expect(app.screen()).toContain('FOLL_PIN adds 1024');
    await app.press('x');
    expect(app.screen()).not.toContain('Help — live');
    expect(app.screen()).toContain('Pages');
  });
});

const VMSPLICE = fixture('vmsplice-xfs.jsonl');

describe('Live dashboard (replayed vmsplice-vs-truncate run on xfs, with its run record)', () => {
  it('mid-run: the refcount rose, the truncator is blocked with its stack, two expectations held', async () => {
    const c = new ReplayController(VMSPLICE, { paused: true });
    c.runUntil(16.2); // after the truncate began, before the munmap
    const app = renderApp(c, 'live');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toContain('vmsplice-vs-truncate · step 5/7 truncator: truncate victim');
    expect(s).toMatch(/victim#0\s+0x100218\s+2\s+\+1\s+0\s+0 unlocked/);
    expect(s).toMatch(/truncator\s+\d+\s+S BLOCKED\s+[\d.]+ s\s+in xfs_break_dax_layouts\s+last: truncate … running/);
    expect(s).toContain('xfs_break_dax_layouts+0x8d [xfs]');
    expect(s).toMatch(/victim:i_rwsem\s+write\s+by truncator/);
    expect(s).toMatch(/victim:invalidate_lock\s+free/);
    expect(s).toMatch(/✓ held\s+vmsplice leaves victim#0 one reference above idle, no pin — ref 2, \+1 above idle, 0 pins/);
    expect(s).toMatch(/✓ held\s+truncator blocked in a break-layouts function within 2 s/);
    expect(s).toMatch(/… pending\s+truncator finishes within 1 s after victim#0 returns/);
    expect(s).toMatch(/replay 1x PAUSED \d+\/193/);
  });

  it('at the end: back to idle, the truncate returned, every expectation held', async () => {
    const app = renderApp(replayed(VMSPLICE), 'live');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toMatch(/victim#0\s+0x100218\s+1\s+0\s+0\s+0 none/);
    expect(s).toContain('4 held, 0 violated, 4 in all');
    expect(s).toMatch(/truncator\s+\d+\s+S sleeping\s+last: truncate → 0 in 2\.9 s/);
    expect(s).toContain('vmsplice-vs-truncate · step 7/7 holder: drain the pipe');
  });

  it('p pauses and s steps a replay one snapshot or action at a time', async () => {
    const c = new ReplayController(VMSPLICE, { paused: true });
    c.runUntil(14.0);
    const app = renderApp(c, 'live');
    cleanup = app.unmount;
    await delay();
    const before = c.getView().replay!.position;
    await app.press('s');
    const after = c.getView().replay!.position;
    expect(after).toBeGreaterThan(before);
    expect(app.screen()).toContain(`replay 1x PAUSED ${after}/`);
    await app.press('+');
    expect(app.screen()).toContain('replay 2x');
  });
});

describe('Live dashboard keys reach the controller', () => {
  it('the scenario keys act on actors; p pauses and s steps a live run', async () => {
    const { FakeController } = await import('./harness.js');
    const c = new FakeController();
    const r = replayed(VMSPLICE);
    c.set({ run: { ...r.getView().run!, status: 'running' }, boot: { profile: 'default', status: 'ready', stages: [], console: [] } });
    const app = renderApp(c, 'live');
    cleanup = app.unmount;
    await delay();
    expect(app.screen()).toMatch(/ d  drain the pipe\s+K  kill truncator/);
    await app.press('d', 'K', 'p');
    expect(c.calls).toEqual(['intervene drain', 'intervene kill-truncator', 'pause true']);
  });
});
