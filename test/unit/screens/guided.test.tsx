// Guided mode over the recorded vmsplice-vs-punch run: the story of the step, where to
// look, what changed since the step began, its expectations.
import { afterEach, describe, expect, it } from 'vitest';
import { ReplayController } from '../../../src/screens/replay.js';
import { delay, fixture, renderApp } from './harness.js';

/** The story column (Guided puts the panels beside it): each line's first `width` characters. */
const story = (screen: string, width = 49) =>
  screen
    .split('\n')
    .map((l) => [...l].slice(0, width).join('').trimEnd())
    .join('\n');

let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());

describe('Guided', () => {
  it('points at the blocked puncher and the lock it holds, and tells why it waits', async () => {
    const c = new ReplayController(fixture('vmsplice-vs-punch-xfs.jsonl'), { paused: true });
    c.runUntil(19.72); // step 6 (the punch) has begun and the puncher sleeps
    const app = renderApp(c, 'guided');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toContain('Step 6 of 14');
    expect(s).toContain('puncher: fallocate punch 0+4K');
    expect(s).toContain('cannot go while the pipe may still read it');
    expect(s).toContain('Look at actors › puncher');
    // What changed since the step began: the puncher went to sleep in break-layouts and
    // took i_rwsem for write.
    expect(story(s)).toMatch(/› actors: puncher: idle → S in\s+xfs_break_dax_layouts/);
    expect(story(s)).toMatch(/› locks: i_rwsem of victim: free → write by\s+puncher/);
    expect(s).toMatch(/✓ puncher sleeps in \/break_\(dax_\)\?layouts\/ withi/);
    expect(s).toContain('xfs_break_dax_layouts+0x8d [xfs]');
  });

  it('b goes back through the story of the steps already run, n comes forward', async () => {
    const c = new ReplayController(fixture('vmsplice-vs-punch-xfs.jsonl'), { paused: true });
    c.runUntil(19.72);
    const app = renderApp(c, 'guided');
    cleanup = app.unmount;
    await delay();
    await app.press('b');
    let s = app.screen();
    expect(s).toContain('Step 5 of 14');
    expect(s).toContain('holder: vmsplice pages 0');
    expect(s).toContain('not a pin');
    await app.press('n');
    s = app.screen();
    expect(s).toContain('Step 6 of 14');
  });
});
