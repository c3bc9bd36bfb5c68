// Profiles, Boot and Scenarios: what the user sees and what each key asks of the lab.
import fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

// Saved profiles go to a temp conf directory (paths.ts reads it at import).
const configDir = vi.hoisted(() => {
  const dir = `${process.env.TMPDIR ?? '/tmp'}/daxlab-screens-${process.pid}`;
  process.env.DAXLAB_CONFIG_DIR = dir;
  return dir;
});

import { savedProfileStore, shippedProfilesDir } from '../../../src/config/profiles.js';
import { delay, FakeController, KEY, renderApp } from './harness.js';

let cleanup: (() => void) | null = null;
afterEach(() => cleanup?.());
afterAll(() => fs.rmSync(configDir, { recursive: true, force: true }));

describe('Profiles', () => {
  it('lists shipped profiles with their parts; enter boots the selected one', async () => {
    const c = new FakeController();
    const app = renderApp(c, 'profiles');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toMatch(/› default\s+shipped xfs -o dax · 1G fsdax/);
    expect(s).toMatch(/ext4\s+shipped ext4 -o dax/);
    await app.press(KEY.enter);
    expect(c.calls).toContain('boot default');
    expect(app.screen()).toContain('daxlab · boot · profile default');
  });

  it('a new profile with errors is not saved: each error shows under its field with its path', async () => {
    const c = new FakeController();
    const app = renderApp(c, 'profiles');
    cleanup = app.unmount;
    await delay();
    await app.press('n');
    expect(app.screen()).toContain('New profile');
    expect(app.screen()).toMatch(/› name\s+my-profile/);
    await delay();
    // cpus: 0 is out of range; nvdimms: a bogus mode.
    await app.press(KEY.down, KEY.down, KEY.down, KEY.down, KEY.enter, KEY.backspace, '0', KEY.enter);
    await app.press(KEY.down, KEY.down, KEY.enter, ...Array(30).fill(KEY.backspace), ...'1G bogus'.split(''), KEY.enter);
    await app.press('s');
    const s = app.screen();
    expect(s).toContain('problem(s): not saved');
    expect(s).toMatch(/cpus\s+0\n\s+✗ cpus: /);
    expect(s).toMatch(/✗ nvdimms\[0\]\.mode: /);
    expect(savedProfileStore(configDir).get('profiles')).toEqual({});
    // Fixed, it saves; the list shows it as saved.
    await app.press(KEY.up, KEY.up, KEY.enter, KEY.backspace, '2', KEY.enter);
    await app.press(KEY.down, KEY.down, KEY.enter, ...Array(8).fill(KEY.backspace), ...'1G fsdax'.split(''), KEY.enter, 's');
    expect(app.screen()).toMatch(/› my-profile\s+saved\s+xfs -o dax · 1G fsdax · 2G 2 cpus/);
    expect(savedProfileStore(configDir).get('profiles')).toHaveProperty('my-profile');
  });

  it('a bad edit of a saved profile leaves the saved one as it was; delete asks first', async () => {
    const store = savedProfileStore(configDir);
    store.set('profiles', { mine: { name: 'mine', fs: { type: 'ext4' }, sampling: { hz: 20 } } });
    const c = new FakeController();
    const app = renderApp(c, 'profiles');
    cleanup = app.unmount;
    await delay();
    // Past the shipped profiles (default, ext4, lts-6.12, sid, ...) to the saved one.
    const shipped = fs.readdirSync(shippedProfilesDir).filter((f) => f.endsWith('.json')).length;
    await app.press(...Array<string>(shipped).fill(KEY.down));
    expect(app.screen()).toMatch(/› mine\s+saved\s+ext4 -o dax/);
    await app.press('e');
    expect(app.screen()).toContain('Edit mine');
    // sample rate 500 Hz: out of range.
    await app.press(...Array(11).fill(KEY.down), KEY.enter, '0', '0', KEY.enter, 's');
    expect(app.screen()).toMatch(/✗ sampling\.hz: /);
    await app.press(KEY.esc);
    expect(app.screen()).toContain('left the form: nothing saved');
    expect(store.get('profiles')).toEqual({ mine: { name: 'mine', fs: { type: 'ext4' }, sampling: { hz: 20 } } });
    await app.press('d');
    expect(app.screen()).toContain('Delete saved profile mine? y deletes');
    await app.press('n');
    expect(store.get('profiles')).toHaveProperty('mine');
    await app.press('d', 'y');
    expect(store.get('profiles')).toEqual({});
    expect(app.screen()).toContain('deleted mine');
  });

  it('a broken saved profile is listed with every error and its path', async () => {
    savedProfileStore(configDir).set('profiles', { broken: { name: 'broken', accel: 'warp', nvdimms: [] } });
    const app = renderApp(new FakeController(), 'profiles');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toMatch(/broken\s+saved\s+not valid \(3 problems\)/);
    expect(s).toContain('✗ accel: ');
    expect(s).toContain('✗ nvdimms: ');
    savedProfileStore(configDir).set('profiles', {});
  });
});

describe('Boot', () => {
  it('shows each stage with its time, the accel decision and its reason, the console tail', async () => {
    const c = new FakeController();
    c.set({
      boot: {
        profile: 'default',
        status: 'booting',
        accel: 'tcg: /dev/kvm is missing',
        stages: [
          { id: 'image', detail: 'kernel, agent and initramfs', state: 'done', ms: 839, note: 'cached' },
          { id: 'qemu', detail: 'starting QEMU (tcg)', state: 'done', ms: 144 },
          { id: 'kernel', detail: 'booting the guest kernel', state: 'running' },
        ],
        console: ['daxlab-init: start at 2.36s', 'daxlab-init: modules loaded at 2.77s'],
        consoleLog: '/runs/x/console.log',
      },
    });
    const app = renderApp(c, 'boot');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toMatch(/✓ kernel, agent, initramfs\s+839 ms cached/);
    expect(s).toMatch(/✓ QEMU\s+144 ms/);
    expect(s).toMatch(/guest kernel to agent\s+booting the guest kernel/);
    expect(s).toContain('accel tcg: /dev/kvm is missing');
    expect(s).toContain('daxlab-init: modules loaded at 2.77s');
  });

  it('a kernel the lab cannot read is "could not test", not a failed boot', async () => {
    const c = new FakeController();
    c.set({ boot: { profile: 'sid', status: 'failed', stages: [{ id: 'observer', detail: 'observer', state: 'failed' }], console: [], error: 'kernel-unreadable: BTF has no member page.compound_head', couldNotTest: "the agent cannot read this kernel's state: BTF has no member page.compound_head" } });
    const app = renderApp(c, 'boot');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toContain('could not test');
    expect(s.replace(/\s+/g, ' ')).toContain("Could not test this kernel: the agent cannot read this kernel's state: BTF has no member page.compound_head");
    expect(s).not.toContain('Boot failed');
  });

  it('shows each probe: the attached ones, and why the others are not', async () => {
    const c = new FakeController();
    c.set({
      boot: {
        profile: 'sid',
        status: 'booting',
        stages: [],
        console: [],
        probes: [
          { name: 'dax_break_layout', status: 'attached', why: '2 direct call sites: xfs_break_layouts+0x4c [xfs]' },
          { name: 'xfs_break_dax_layouts', status: 'not called', why: 'exists but is not called: no call or jump to it' },
          { name: 'iov_iter_get_pages2', status: 'unavailable', why: 'no function iov_iter_get_pages2 in /proc/kallsyms' },
        ],
      },
    });
    const app = renderApp(c, 'boot');
    cleanup = app.unmount;
    await delay();
    const s = app.screen();
    expect(s).toMatch(/Probes.*1 attached · 1 not called · 1 unavailable/);
    expect(s).toMatch(/attached dax_break_layout/);
    expect(s).toMatch(/xfs_break_dax_layouts\s+not called\s+exists but is not called/);
    expect(s).toMatch(/iov_iter_get_pages2\s+unavailable\s+no function iov_iter_get_pages2/);
  });

  it('a failed boot shows the cause and the console log path; ready opens the scenarios', async () => {
    const c = new FakeController();
    c.set({ boot: { profile: 'default', status: 'failed', stages: [{ id: 'kernel', detail: 'booting', state: 'failed' }], console: ['Kernel panic - not syncing'], error: 'boot watchdog: the guest agent did not start within 180 s (tcg)', consoleLog: '/runs/x/console.log' } });
    const app = renderApp(c, 'boot');
    cleanup = app.unmount;
    await delay();
    let s = app.screen();
    expect(s).toContain('✗ guest kernel to agent');
    expect(s).toContain('Boot failed: boot watchdog: the guest agent did not start within 180 s (tcg)');
    expect(s).toContain('console log: /runs/x/console.log');
    expect(s).toContain('Kernel panic - not syncing');
    await app.press('r');
    expect(c.calls).toContain('boot default');
    c.set({ boot: { ...c.getView().boot, status: 'ready', error: undefined } });
    await delay();
    s = app.screen();
    expect(s).toContain('daxlab · scenarios');
  });
});

describe('Scenarios', () => {
  it('lists each scenario with its thread and what it shows; / filters; enter runs, g runs guided', async () => {
    const c = new FakeController();
    c.set({ boot: { profile: 'default', status: 'ready', stages: [], console: [] } });
    const app = renderApp(c, 'scenarios');
    cleanup = app.unmount;
    await delay();
    let s = app.screen();
    expect(s).toContain('7 of 7');
    expect(s).toContain('› dma-vs-truncate O_DIRECT into a DAX page while the file is truncated');
    expect(s).toContain('<20171026105850.GA31161@quack2.suse.cz>');
    expect(s).toMatch(/vmsplice-vs-punch A pipe holds a DAX page; hole punch must wait for it\n.*\n.*\n\s+14 steps · needs xfs or ext4 · you can: drain the pipe, kill puncher/);
    await app.press('/', ...'map-direct'.split(''), KEY.enter);
    s = app.screen();
    expect(s).toContain('1 of 7 matching "map-direct"');
    expect(s).not.toContain('vmsplice-vs-punch');
    await app.press('g');
    expect(c.calls).toEqual(['run map-direct-lease guided']);
    expect(app.screen()).toContain('daxlab · guided');
  });
});

describe('Text input', () => {
  it('keys that arrive together ("/", "map-direct" and enter in one read) open, fill and apply the filter', async () => {
    const c = new FakeController();
    c.set({ boot: { profile: 'default', status: 'ready', stages: [], console: [] } });
    const app = renderApp(c, 'scenarios');
    cleanup = app.unmount;
    await delay();
    await app.press('/map-direct\r');
    const s = app.screen();
    expect(s).toContain('1 of 7 matching "map-direct"');
    expect(s).not.toContain('\r');
    await app.press('g');
    expect(c.calls).toEqual(['run map-direct-lease guided']);
  });
});

describe('Repeated keys', () => {
  it('a key held down ("jjj" in one read) moves as many times', async () => {
    const app = renderApp(new FakeController(), 'profiles');
    cleanup = app.unmount;
    await delay();
    await app.press('c'); // the form: name is the first field
    await app.press('jjj');
    expect(app.screen()).toMatch(/› accel\s+auto/);
  });
});
