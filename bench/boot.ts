// Boot benchmark: boot-to-agent-hello per stage, against the floor — the same kernel and
// initramfs booting straight into `poweroff -f` — measured side by side in one run:
// the lab's cold boot from the profile's NVDIMM template, the same boot with fresh backing
// files (ndctl + mkfs in the guest, as before templates), the warm start (the set-up guest
// restored from its saved state) and the floor, alternated.
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

/**
 * A boot that does nothing of the lab's: QEMU start to poweroff, same kernel and initramfs.
 * "bare": init is busybox's poweroff, empty backing files. "modules": the agent as PID 1
 * loads the profile's modules with its own loaders, on the NVDIMM template as a lab boot
 * has it (nd_pmem's probe lays out the namespaces' struct pages), then powers off: what the
 * kernel itself spends loading them, so that hello minus this floor is the lab's own part.
 */
async function floorBoot(session: GuestSession, kind: 'bare' | 'modules'): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-floor-'));
  try {
    const template = kind === 'modules' ? session.templateFiles : null;
    if (kind === 'modules' && !template) throw new Error('the modules floor needs the profile\'s NVDIMM template');
    const files = {
      socketDir: dir,
      consoleLog: path.join(dir, 'console.log'),
      nvdimmFiles: template ?? session.profile.nvdimms.map((_, i) => path.join(dir, `nv${i}.img`)),
    };
    if (!template) {
      session.profile.nvdimms.forEach((n, i) => {
        fs.writeFileSync(files.nvdimmFiles[i]!, '');
        fs.truncateSync(files.nvdimmFiles[i]!, parseSize(n.size));
      });
    }
    // Arguments after "--" go to init.
    const init =
      kind === 'bare'
        ? ['rdinit=/bin/busybox', '--', 'poweroff', '-f']
        : [`daxlab.modules=${session.moduleOrder.join(',')}`, 'rdinit=/sbin/daxlab-agent', '--', '--init', '--modules-floor'];
    const argv = qemuArgv({
      profile: session.profile,
      accel: session.accel.accel,
      kernelImage: session.kernel.vmlinux ?? session.kernel.bzImage,
      initrd: session.image.path,
      files,
      privateNvdimms: template !== null,
      name: 'daxlab-bench-floor',
      append: kernelCommandLine(session.accel.accel, init),
    });
    const began = performance.now();
    await execa('setpriv', ['--pdeathsig', 'KILL', '--', 'qemu-system-x86_64', ...argv], { stdin: 'ignore', timeout: 120_000 });
    const ms = performance.now() - began;
    if (kind === 'modules' && !/modules loaded at/.test(fs.readFileSync(files.consoleLog, 'utf8'))) {
      throw new Error(`the modules floor did not load the modules: ${fs.readFileSync(files.consoleLog, 'utf8').slice(-500)}`);
    }
    return ms;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

type Boot = { timings: BootTimings; loads: Record<string, number>; warm: GuestSession['warm'] };

async function labBoot(profile: ReturnType<typeof loadProfile>, template: boolean, warm = false): Promise<{ boot: Boot; session: GuestSession }> {
  const session = await GuestSession.boot(profile, { progress: silentProgress, nvdimmTemplate: template, warmStart: warm });
  const boot = { timings: { ...session.timings }, loads: { ...(session.hello.timings.moduleLoads ?? {}) }, warm: session.warm };
  await session.shutdown();
  return { boot, session };
}

export async function bootBench(runs: number): Promise<void> {
  const profile = loadProfile(process.env.BENCH_PROFILE ?? 'default');
  // The profile's first boot makes its NVDIMM template; that boot is not one of the runs.
  const first = await labBoot(profile, true);
  if (first.session.nvdimmSource.kind === 'made') {
    process.stderr.write(`first boot of ${profile.name}: made the NVDIMM template (${first.session.nvdimmSource.dir}), hello ${first.boot.timings.agentHello} ms\n`);
  }
  // The warm start's state: saved by a boot from the template when there is none yet.
  const saving = await labBoot(profile, true, true);
  if (saving.boot.warm.kind === 'saved') {
    process.stderr.write(`saved the warm start: ${(saving.boot.warm.bytes / 2 ** 20).toFixed(0)} MiB in ${saving.boot.warm.saveMs} ms (after a hello of ${saving.boot.timings.agentHello} ms)\n`);
  }
  const fromTemplate: Boot[] = [];
  const fresh: Boot[] = [];
  const warm: Boot[] = [];
  const floors: number[] = [];
  const moduleFloors: number[] = [];
  let last = first.session;
  for (let i = 0; i < runs; i++) {
    // Alternate the four so that all see the same machine state.
    const t = await labBoot(profile, true);
    fromTemplate.push(t.boot);
    const f = await labBoot(profile, false);
    fresh.push(f.boot);
    const w = await labBoot(profile, true, true);
    if (w.boot.warm.kind !== 'restored') throw new Error(`the warm boot was not restored: ${JSON.stringify(w.boot.warm)}`);
    warm.push(w.boot);
    floors.push(await floorBoot(t.session, 'bare'));
    moduleFloors.push(await floorBoot(t.session, 'modules'));
    last = t.session;
    process.stderr.write(
      `run ${i + 1}/${runs}: hello ${t.boot.timings.agentHello} ms (template), ${f.boot.timings.agentHello} ms (fresh), ${w.boot.timings.agentHello} ms (warm), floor ${Math.round(floors.at(-1)!)} ms, with modules ${Math.round(moduleFloors.at(-1)!)} ms\n`,
    );
  }
  // Back to back, as a matrix row or a repeated bisect step boots: warm after warm.
  const warmInRow: Boot[] = [];
  for (let i = 0; i < runs; i++) warmInRow.push((await labBoot(profile, true, true)).boot);
  const floor = median(floors);
  console.log(`\nboot benchmark: profile ${profile.name}, ${runs} runs, accel ${last.accel.accel}, kernel ${last.kernel.release}`);
  console.log('stage (median ms)   template      fresh');
  for (const stage of Object.keys(fromTemplate[0]!.timings) as Array<keyof BootTimings>) {
    const m = (boots: Boot[]) => String(median(boots.map((b) => b.timings[stage] ?? 0))).padStart(10);
    console.log(`${stage.padEnd(18)} ${m(fromTemplate)} ${m(fresh)}`);
  }
  const moduleFloor = median(moduleFloors);
  console.log(`floor              ${String(Math.round(floor)).padStart(10)}   (QEMU start -> poweroff as PID 1, same kernel + initramfs)`);
  console.log(`floor + modules    ${String(Math.round(moduleFloor)).padStart(10)}   (the same, the agent as PID 1 loading the profile's modules on the template, then poweroff)`);
  const loads = Object.keys(fromTemplate[0]!.loads)
    .map((name) => [name, median(fromTemplate.map((b) => b.loads[name] ?? 0))] as const)
    .sort((a, b) => b[1] - a[1]);
  console.log(`modules (finit_module ms, two loaders): ${loads.map(([n, ms]) => `${n} ${Math.round(ms)}`).join(', ')}`);
  const hello = (boots: Boot[]) => median(boots.map((b) => b.timings.agentHello));
  console.log(`host before QEMU starts: ${median(fromTemplate.map((b) => b.timings.host))} ms (cached kernel + image: stamps only)`);
  console.log(`ratio hello/floor: ${(hello(fromTemplate) / floor).toFixed(2)} from the NVDIMM template, ${(hello(fresh) / floor).toFixed(2)} with ndctl + mkfs in the guest`);
  console.log(
    `ratio hello/(floor + modules): ${(hello(fromTemplate) / moduleFloor).toFixed(2)} from the template; the kernel's module loading is ${Math.round(moduleFloor - floor)} ms ` +
      `of the ${Math.round(hello(fromTemplate) - floor)} ms a cold boot takes beyond the floor, the lab's own part ${Math.round(hello(fromTemplate) - moduleFloor)} ms`,
  );
  const w0 = warm[0]!.warm;
  console.log(
    `warm start: hello ${hello(warm)} ms (QEMU loads the saved state in ${median(warm.map((b) => b.timings.kernel))} ms, ` +
      `${w0.kind === 'restored' ? (w0.bytes / 2 ** 20).toFixed(0) : '?'} MiB); ratio hello/floor ${(hello(warm) / floor).toFixed(2)}, ` +
      `warm/cold ${(hello(warm) / hello(fromTemplate)).toFixed(2)} (each restore right after a cold boot)`,
  );
  console.log(
    `warm start back to back: hello ${hello(warmInRow)} ms (load ${median(warmInRow.map((b) => b.timings.kernel))} ms); ` +
      `ratio hello/floor ${(hello(warmInRow) / floor).toFixed(2)}, warm/cold ${(hello(warmInRow) / hello(fromTemplate)).toFixed(2)}`,
  );
}
