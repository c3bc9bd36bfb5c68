// The TUI in a real terminal: tmux runs `daxlab`, send-keys picks the default profile and a
// scenario, capture-pane reads what a user would see (the refcount rising, the blocked
// actor and its kernel stack, the verdicts), and `q` must leave no QEMU behind.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './cli.js';

const session = `daxlab-tui-${process.pid}`;
const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-tui-config-'));
const tmux = (...args: string[]) => execa('tmux', args, { reject: false });
const screen = async () => String((await tmux('capture-pane', '-p', '-t', session)).stdout);
const keys = (...k: string[]) => tmux('send-keys', '-t', session, ...k);

/** Capture the pane until `predicate` holds; the last screen is in the error otherwise. */
async function until(predicate: (s: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let s = '';
  while (Date.now() < deadline) {
    s = await screen();
    if (predicate(s)) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; the screen:\n${s}`);
}

/** Every process below `pid`, with its command line. */
async function descendants(pid: number): Promise<Array<{ pid: number; cmd: string }>> {
  const out = String((await execa('ps', ['-e', '-o', 'pid=,ppid=,args='], { reject: false })).stdout);
  const rows = out.split('\n').map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l)).filter((m): m is RegExpExecArray => !!m);
  const found: Array<{ pid: number; cmd: string }> = [];
  const walk = (p: number) => {
    for (const m of rows) if (Number(m[2]) === p) (found.push({ pid: Number(m[1]), cmd: m[3]! }), walk(Number(m[1])));
  };
  walk(pid);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterAll(async () => {
  await tmux('kill-session', '-t', session);
  fs.rmSync(configDir, { recursive: true, force: true });
});

describe('daxlab in a real terminal (tmux, 100x30)', () => {
  it('boots the default profile, runs vmsplice-vs-punch live, and quits leaving no QEMU', async () => {
    const started = await tmux(
      'new-session', '-d', '-s', session, '-x', '100', '-y', '30',
      '-e', `DAXLAB_CONFIG_DIR=${configDir}`,
      `cd ${repoRoot} && node bin/daxlab.mjs; echo "daxlab exited $?"; sleep 600`,
    );
    expect(started.exitCode, String(started.stderr)).toBe(0);
    const pane = Number(String((await tmux('display-message', '-p', '-t', session, '#{pane_pid}')).stdout).trim());

    // The profile list opens on the default profile; enter boots it.
    await until((s) => /› default\s+shipped/.test(s), 60_000, 'the profile list');
    await keys('Enter');
    const boot = await until((s) => s.includes('daxlab · boot'), 10_000, 'the boot screen');
    expect(boot).toContain('profile default');
    // The guest comes up: the scenario list opens by itself.
    const list = await until((s) => s.includes('daxlab · scenarios') && s.includes('guest ready'), 300_000, 'the guest to come up');
    expect(list).toContain('vmsplice-vs-punch');
    const qemu = (await descendants(pane)).filter((p) => p.cmd.includes('qemu-system'));
    expect(qemu.length).toBe(1);

    // Pick the scenario by its id with the filter, and run it on the dashboard.
    await keys('/');
    await keys('-l', 'vmsplice-vs-punch');
    await keys('Enter');
    // As a user would: look that the filter took, then run.
    await until((s) => s.includes('1 of 7 matching "vmsplice-vs-punch"') && s.includes(' enter  run '), 10_000, 'the filtered list');
    await keys('Enter');
    const rose = await until((s) => /victim#0\s+0x[0-9a-f]+\s+2\s+\+1\s+0/.test(s), 120_000, 'the refcount of victim#0 to rise to 2 (+1 above idle)');
    expect(rose).toContain('daxlab · dashboard · live');
    const blocked = await until((s) => /S BLOCKED/.test(s) && /xfs_break_dax_layouts\+0x[0-9a-f]+/.test(s), 60_000, 'the puncher to block in xfs_break_dax_layouts');
    expect(blocked).toMatch(/puncher\s+\d+\s+S BLOCKED\s+[\d.]+ m?s\s+in xfs_break_dax_layouts/);
    expect(blocked).toMatch(/^\s+xfs_break_layouts\+0x[0-9a-f]+ \[xfs\]$/m);
    expect(blocked).toMatch(/victim:i_rwsem\s+write\s+by puncher/);
    const done = await until((s) => /\d+ held, \d+ violated, \d+ in all/.test(s) && /· finished/.test(s), 180_000, 'the run to finish');
    const [, held, violated] = /(\d+) held, (\d+) violated/.exec(done)!;
    expect(Number(held)).toBeGreaterThan(5);
    // The report: a violated expectation is a finding, with its evidence.
    await keys('r');
    const report = await until((s) => s.includes('daxlab · report'), 10_000, 'the report');
    if (Number(violated) > 0) expect(report).toMatch(/finding\(s\): the kernel did not do what the scenario expects/);
    else expect(report).toContain('every expectation held');

    // q: the guest is shut down cleanly and daxlab exits 0; nothing of it is left.
    await keys('q');
    await until((s) => s.includes('daxlab exited 0'), 60_000, 'daxlab to exit');
    for (const p of qemu) expect(alive(p.pid), `QEMU ${p.pid} still running`).toBe(false);
    expect((await descendants(pane)).filter((p) => p.cmd.includes('qemu-system'))).toEqual([]);
  });
});
