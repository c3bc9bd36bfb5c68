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
    expect(s).toContain('agent dropped nothing');
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

const PUNCH = fixture('vmsplice-vs-punch-xfs.jsonl');

describe('Live dashboard (replayed vmsplice-vs-punch engine run on xfs, with its report)', () => {
  it('mid-run: the refcount rose, the puncher is blocked with its stack, the verdicts so far', async () => {
    const c = new ReplayController(PUNCH, { paused: true });
    c.runUntil(20.5); // after the munmap: the pipe still holds page 0, the punch waits
    const app = renderApp(c, 'live');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toContain('vmsplice-vs-punch · step 7/14 holder: munmap');
    expect(s).toMatch(/victim#0\s+0x100218\s+2\s+\+1\s+0\s+0 unlocked/);
    expect(s).toMatch(/puncher\s+\d+\s+S BLOCKED\s+[\d.]+ (m?s)\s+in xfs_break_dax_layouts\s+last: fallocate … running/);
    expect(s).toContain('xfs_break_dax_layouts+0x8d [xfs]');
    expect(s).toMatch(/victim:i_rwsem\s+write\s+by puncher/);
    expect(s).toMatch(/victim:invalidate_lock\s+free/);
    // The engine's verdicts appear at the guest time it reached them: 8 by now.
    expect(s).toContain('8 held, 0 violated, 19 in all');
    expect(s).toMatch(/… pending\s+the puncher returns within 1 s after page 0 is back at its idle refcount/);
    expect(s).toMatch(/replay 1x PAUSED \d+\/300/);
  });

  it('at the end: the finding of part two first, the punch returned, the exit code', async () => {
    const app = renderApp(replayed(PUNCH), 'live');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toContain('18 held, 1 violated, 19 in all');
    // A violated expectation leads the panel.
    expect(s).toMatch(/─ Expectations.*\n✗ violated the punch waits while the pipe still holds page 1 \(1 s\) — puncher's fallocate had alread/);
    expect(s).toMatch(/puncher\s+\d+\s+(S sleeping|exited)\s+last: fallocate → 0/);
    expect(s).toContain('vmsplice-vs-punch · step 14/14 holder: drain');
  });

  it('p pauses and s steps a replay one snapshot or action at a time', async () => {
    const c = new ReplayController(PUNCH, { paused: true });
    c.runUntil(19.0);
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
    const r = replayed(PUNCH);
    c.set({ run: { ...r.getView().run!, status: 'running' }, boot: { profile: 'default', status: 'ready', stages: [], console: [] } });
    const app = renderApp(c, 'live');
    cleanup = app.unmount;
    await delay();
    expect(app.screen()).toMatch(/ d  drain the pipe\s+K  kill puncher/);
    await app.press('d', 'K', 'p');
    expect(c.calls).toEqual(['intervene drain', 'intervene kill:puncher', 'pause true']);
  });
});
