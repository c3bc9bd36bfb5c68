// The boot's console watch: a kernel panic on the console ends the boot at once.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchConsoleForPanic } from '../../src/vm/watchdog.js';
import { tempDirs } from './tempDirs.js';

const tempDir = tempDirs('daxlab-panic-');

describe('watchConsoleForPanic', () => {
  it('sees the panic line when it comes, also split across two writes, and not before', async () => {
    const log = path.join(tempDir(), 'console.log');
    const w = watchConsoleForPanic(log, 20);
    let seen: string | null = null;
    void w.seen.then((line) => (seen = line));
    await new Promise((r) => setTimeout(r, 80));
    fs.writeFileSync(log, '[    1.3] Oops: int3: 0000 [#1] SMP NOPTI\n[    1.3] Kernel pan');
    await new Promise((r) => setTimeout(r, 80));
    expect(seen).toBeNull();
    fs.appendFileSync(log, 'ic - not syncing: Fatal exception in interrupt\n[    3.0] Shutting down cpus with NMI\n');
    await expect(w.seen).resolves.toBe('Kernel panic - not syncing: Fatal exception in interrupt');
    w.stop();
  });
});
