// globalSetup of the unit project: its test workers get a TMPDIR of their own, a fresh
// directory, and the run fails if anything is left in it at the end (a test, or the lab
// code it calls, that makes a temporary file or directory and does not remove it).
// Comparing /tmp before and after would count what other processes made meanwhile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

/** What is left in dir, as lines "name" (a directory with a trailing slash). */
export function leftIn(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
    .sort();
}

/** Counts by name with its random tail cut off (daxlab-kernel-AbC123 -> daxlab-kernel). */
export function byPrefix(names: string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) {
    const prefix = n.replace(/\/$/, '').replace(/[-_.][^-_.]*$/, '') || n;
    counts.set(prefix, (counts.get(prefix) ?? 0) + 1);
  }
  return [...counts].map(([p, n]) => `${p} ${n}`).join(', ');
}

export default function setup(project: TestProject): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-unit-tmp-'));
  // The workers' environment only: this process, and any other project in the same run,
  // keep their TMPDIR.
  const env = (project.config.env ??= {});
  env.TMPDIR = dir;
  return () => {
    // tsx keeps its compile cache in TMPDIR/tsx-<uid> (the CLI tests run bin/daxlab.mjs,
    // which registers tsx): a cache meant to outlive the process, not a leak of ours.
    const tsxCache = `tsx-${os.userInfo().uid}/`;
    const left = leftIn(dir).filter((name) => name !== tsxCache);
    fs.rmSync(dir, { recursive: true, force: true });
    if (!left.length) return;
    const shown = left.slice(0, 20).join(' ') + (left.length > 20 ? ` ... (${left.length - 20} more)` : '');
    const message = `the unit tests left ${left.length} entries in their TMPDIR (${byPrefix(left)}): ${shown}`;
    // vitest only logs an error thrown at teardown ("error during close"): the exit code says it too.
    process.exitCode = 1;
    throw new Error(message);
  };
}
