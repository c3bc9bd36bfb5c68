// The agent's kernel-state reader (src/vm/guest/kstate) has its own C unit tests: pure
// decoders, page-table walks over fake tables, BTF offsets of the host kernel and of the
// Debian 6.1 guest kernel (cross-checked with bpftool), and a fake /proc/kcore end to end.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from '../guest/cli.js';

it('kstate C unit tests pass', { timeout: 300_000 }, async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-kstate-'));
  const r = await execa('make', ['-s', '-C', path.join(repoRoot, 'src/vm/guest/kstate'), `O=${out}`, 'test'], {
    reject: false,
    all: true,
  });
  const summary = /kstate: (\d+) passed, (\d+) failed/.exec(String(r.all));
  expect(summary, String(r.all).slice(-3000)).not.toBeNull();
  expect(Number(summary![2]), String(r.all).slice(-3000)).toBe(0);
  expect(Number(summary![1])).toBeGreaterThan(500);
  expect(r.exitCode).toBe(0);
});
