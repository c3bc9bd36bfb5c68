// The host keeps the agent's call-site scans by the agent's key (kernel build and module
// set): a complete fresh scan is kept, a cached or partial one is not, the newest first.
import fs from 'node:fs';
import { afterAll, expect, it, vi } from 'vitest';

const dir = vi.hoisted(() => {
  const d = `${process.env.TMPDIR ?? '/tmp'}/daxlab-callscan-${process.pid}`;
  process.env.DAXLAB_CACHE_DIR = d;
  return d;
});

import { cachedCallScans, rememberCallScan } from '../../src/lab/callScanCache.js';
import { traceCommand } from '../../src/lab/trace.js';

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const results = (n: number) => [{ fn: 'dax_break_layout', found: true, calls: n, jumps: 0, refs: 0, callers: 'xfs_break_layouts+0x4c [xfs]' }];

it('keeps fresh complete scans by key, newest first, and sends them with the trace command', () => {
  expect(cachedCallScans()).toEqual([]);
  expect(traceCommand({ cached: true }).callScanCache).toEqual([]);
  expect(traceCommand()).not.toHaveProperty('callScanCache');
  rememberCallScan({ callScan: { measured: true, key: 'aaaa', cached: false, results: results(7) } });
  rememberCallScan({ callScan: { measured: true, key: 'bbbb', cached: false, results: results(2) } });
  // the same kernel scanned again replaces its entry
  rememberCallScan({ callScan: { measured: true, key: 'aaaa', cached: false, results: results(8) } });
  expect(cachedCallScans().map((e) => [e.key, (e.results[0] as { calls: number }).calls])).toEqual([
    ['aaaa', 8],
    ['bbbb', 2],
  ]);
  expect(traceCommand({ cached: true }).callScanCache).toHaveLength(2);
});

it('keeps nothing from a cached, partial or failed scan', () => {
  const before = cachedCallScans();
  rememberCallScan({ callScan: { measured: true, key: 'cccc', cached: true, results: results(1) } });
  rememberCallScan({ callScan: { measured: false, key: 'dddd', error: 'kernel memory unreadable' } });
  rememberCallScan({ callScan: { measured: true, key: 'eeee' } });
  rememberCallScan(null);
  expect(cachedCallScans()).toEqual(before);
});

it('a cache file that is not ours is no cache', () => {
  fs.writeFileSync(`${dir}/callscan.json`, '{"not": "a list"}');
  expect(cachedCallScans()).toEqual([]);
  fs.writeFileSync(`${dir}/callscan.json`, 'garbage');
  expect(cachedCallScans()).toEqual([]);
});
