// Guided mode over the recorded vmsplice-vs-truncate run: the story of the step, where to
// look, what changed since the step began, its expectations.
import { afterEach, describe, expect, it } from 'vitest';
import { ReplayController } from '../../../src/screens/replay.js';
import { delay, fixture, renderApp } from './harness.js';

let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());

describe('Guided', () => {
  it('points at the blocked truncator and the lock it holds, and tells why it waits', async () => {
    const c = new ReplayController(fixture('vmsplice-xfs.jsonl'), { paused: true });
    c.runUntil(16.2);
    const app = renderApp(c, 'guided');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toContain('Step 5 of 7');
    expect(s).toContain('truncator: truncate victim to 0');
    expect(s).toContain('Truncate must not free a block');
    expect(s).toContain('Look at actors › truncator');
    // What changed since the step began: the truncator went to sleep in break-layouts and
    // took i_rwsem for write.
    expect(s).toMatch(/› actors: truncator: idle → S in\s+xfs_break_dax_layouts/);
    expect(s).toMatch(/› locks: i_rwsem of victim: free → write by\s+truncator/);
    expect(s).toMatch(/✓ truncator blocked in a break-layouts function/);
    expect(s).toContain('xfs_break_dax_layouts+0x8d [xfs]');
  });

  it('b goes back through the story of the steps already run, n comes forward', async () => {
    const c = new ReplayController(fixture('vmsplice-xfs.jsonl'), { paused: true });
    c.runUntil(16.2);
    const app = renderApp(c, 'guided');
    cleanup = app.unmount;
    await delay();
    await app.press('b');
    let s = app.screen();
    expect(s).toContain('Step 4 of 7');
    expect(s).toContain('holder: vmsplice page 0 into a pipe');
    expect(s).toContain('FOLL_GET');
    expect(s).toContain('<20171026105850.GA31161@quack2.suse.cz>');
    await app.press('n');
    s = app.screen();
    expect(s).toContain('Step 5 of 7');
  });
});
