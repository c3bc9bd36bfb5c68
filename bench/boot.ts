// Boot benchmark: boot-to-agent-hello per stage, against the floor — the same kernel and
// initramfs booting straight into `poweroff -f` — measured side by side in one run.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadProfile } from '../src/config/profiles.js';
import { parseSize } from '../src/config/units.js';
import { silentProgress } from '../src/vm/progress.js';
import { kernelCommandLine, qemuArgv } from '../src/vm/qemu.js';
import { GuestSession, type BootTimings } from '../src/vm/session.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function floorBoot(session: GuestSession): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-floor-'));
  try {
    const files = {
      socketDir: dir,
      consoleLog: path.join(dir, 'console.log'),
      nvdimmFiles: session.profile.nvdimms.map((_, i) => path.join(dir, `nv${i}.img`)),
    };
    session.profile.nvdimms.forEach((n, i) => {
      fs.writeFileSync(files.nvdimmFiles[i]!, '');
      fs.truncateSync(files.nvdimmFiles[i]!, parseSize(n.size));
    });
    const argv = qemuArgv({
      profile: session.profile,
      accel: session.accel.accel,
      kernelImage: session.kernel.vmlinux ?? session.kernel.bzImage,
      initrd: session.image.path,
      files,
      name: 'daxlab-bench-floor',
      // Arguments after "--" go to init: busybox runs its poweroff applet as PID 1.
      append: kernelCommandLine(['rdinit=/bin/busybox', '--', 'poweroff', '-f']),
    });
    const began = performance.now();
    await execa('setpriv', ['--pdeathsig', 'KILL', '--', 'qemu-system-x86_64', ...argv], { stdin: 'ignore', timeout: 120_000 });
    return performance.now() - began;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function bootBench(runs: number): Promise<void> {
  const profile = loadProfile(process.env.BENCH_PROFILE ?? 'default');
  const boots: BootTimings[] = [];
  const floors: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate the two so both see the same machine state.
    const session = await GuestSession.boot(profile, { progress: silentProgress });
    boots.push({ ...session.timings });
    await session.shutdown();
    floors.push(await floorBoot(session));
    process.stderr.write(`run ${i + 1}/${runs}: hello ${boots.at(-1)!.agentHello} ms, floor ${Math.round(floors.at(-1)!)} ms\n`);
  }
  const floor = median(floors);
  console.log(`\nboot benchmark: profile ${profile.name}, ${runs} runs, accel ${boots.length ? 'see below' : ''}`);
  console.log('stage        median ms');
  for (const stage of Object.keys(boots[0]!) as Array<keyof BootTimings>) {
    console.log(`${stage.padEnd(12)} ${String(median(boots.map((b) => b[stage]))).padStart(9)}`);
  }
  const hello = median(boots.map((b) => b.agentHello));
  console.log(`floor        ${String(Math.round(floor)).padStart(9)}   (QEMU start -> poweroff as PID 1, same kernel + initramfs)`);
  console.log(`ratio hello/floor: ${(hello / floor).toFixed(2)}   (QEMU start -> lab set up and agent hello, over the floor)`);
}
