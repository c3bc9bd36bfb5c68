// Profile -> QEMU argv (pure), so the command line can be tested and shown to the user.
import path from 'node:path';
import type { Profile } from '../config/profiles.js';
import { formatSize, parseSize } from '../config/units.js';

export type Accel = 'kvm' | 'tcg';

export const AGENT_PORT_NAME = 'org.daxlab.agent';

export type RunFiles = {
  /** Private 0700 directory for the sockets (short path: unix sockets are limited to 108 bytes). */
  socketDir: string;
  consoleLog: string;
  nvdimmFiles: string[];
};

export const agentSocket = (files: RunFiles) => path.join(files.socketDir, 'agent.sock');
export const qmpSocket = (files: RunFiles) => path.join(files.socketDir, 'qmp.sock');

export function kernelCommandLine(accel: Accel, extra: string[] = []): string {
  // panic=-1 reboots on panic, and -no-reboot turns that into a QEMU exit we notice.
  return ['console=ttyS0', 'quiet', 'panic=-1', 'rdinit=/init', ...accelKernelParams(accel), ...extra].join(' ');
}

/**
 * Under TCG whether the guest trusts its TSC depends on the boot: the sync check between
 * the two vCPUs and the clocksource watchdog pass in some boots and not in others, so
 * one boot runs on the TSC and another on the HPET (every clock_gettime() a system
 * call). A boot that trusts it flips the sched_clock_stable static key at
 * late init ("sched_clock: Marking stable"), a text patch while the other vCPU runs:
 * the 7.2 guest oopsed there once in CI ("Oops: int3" at sched_clock_cpu+0x9, session
 * 7, multi-threaded TCG). tsc=unstable decides it at boot, the same way every boot,
 * with no patch of that site. Under KVM the guest keeps its own choice (kvm-clock).
 */
export function accelKernelParams(accel: Accel): string[] {
  return accel === 'tcg' ? ['tsc=unstable'] : [];
}

export function qemuArgv(opts: {
  profile: Profile;
  accel: Accel;
  kernelImage: string;
  initrd: string;
  files: RunFiles;
  name: string;
  /** Replaces the kernel command line (the benchmark's floor boots straight into poweroff). */
  append?: string;
  /** Added to the lab's kernel command line (daxlab.modules=...: what the agent loads at its start). */
  kernelParams?: string[];
  /**
   * Map the NVDIMM files private (share=off): the guest starts from their contents, and
   * what it writes stays in QEMU's memory, never in the file. The profile's NVDIMM
   * template is booted this way: one copy serves every run, none is written per run.
   */
  privateNvdimms?: boolean;
  /** Add to the console log instead of starting it again (a warm start seeds it with the saved boot's). */
  consoleAppend?: boolean;
  /** `-incoming` (a warm start: `fd:3`, the saved state QEMU was handed). */
  incoming?: string;
}): string[] {
  const { profile, accel, files } = opts;
  const memory = parseSize(profile.memory);
  const nvdimmBytes = profile.nvdimms.map((n) => parseSize(n.size));
  // Hot-pluggable space for the NVDIMMs; keep 1G of slack for alignment.
  const maxmem = memory + nvdimmBytes.reduce((a, b) => a + b, 0) + 2 ** 30;
  const argv = [
    // debug-threads: QEMU names its threads ("CPU 0/KVM", "CPU 1/TCG"): a hung vCPU shows in
    // top -H, and the kill trials can stop the vCPUs alone (a frozen guest).
    '-name', `${opts.name},debug-threads=on`,
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-smp', String(profile.cpus),
    '-machine', 'pc,nvdimm=on',
    '-m', `${formatSize(memory)},slots=${profile.nvdimms.length + 1},maxmem=${formatSize(maxmem)}`,
  ];
  profile.nvdimms.forEach((_, i) => {
    argv.push(
      '-object', `memory-backend-file,id=nvmem${i},share=${opts.privateNvdimms ? 'off' : 'on'},mem-path=${files.nvdimmFiles[i]},size=${formatSize(nvdimmBytes[i]!)}`,
      // slot N gets NFIT handle N+1: the agent finds each NVDIMM's region by it.
      '-device', `nvdimm,id=nvdimm${i},memdev=nvmem${i},slot=${i}`,
    );
  });
  argv.push(
    '-kernel', opts.kernelImage,
    '-initrd', opts.initrd,
    '-append', opts.append ?? kernelCommandLine(opts.accel, opts.kernelParams),
    '-chardev', `file,id=console,path=${files.consoleLog}${opts.consoleAppend ? ',append=on' : ''}`,
    '-serial', 'chardev:console',
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `socket,id=agent,path=${agentSocket(files)},server=on,wait=off`,
    '-device', `virtserialport,bus=vser0.0,chardev=agent,name=${AGENT_PORT_NAME}`,
    '-qmp', `unix:${qmpSocket(files)},server=on,wait=off`,
  );
  if (opts.incoming) argv.push('-incoming', opts.incoming);
  return argv;
}
