// daxlab boot: boot the profile's guest, verify the DAX mount, shut down, report.
import { loadProfile } from '../config/profiles.js';
import { ensureHost } from '../vm/host.js';
import { GuestSession } from '../vm/session.js';
import { consoleProgress } from './output.js';

export type BootReport = {
  profile: string;
  runDir: string;
  consoleLog: string;
  transcript: string;
  kernel: { release: string; version: string; origin: string; booted: string; entry: 'pvh' | 'bzImage' };
  accel: { used: string; reason: string };
  image: { path: string; cached: boolean };
  nvdimms: Array<{ slot: number; mode: string; size: number; blockdev?: string; chardev?: string; namespace: string; region: string }>;
  mount: { device: string; mountpoint: string; fstype: string; options: string };
  statxDax: boolean;
  /** Where the namespaces and the filesystem came from: the profile's NVDIMM template, made now, or fresh. */
  nvdimmSource: GuestSession['nvdimmSource'];
  /** Booted, booted and saved for the next boots, or restored from the saved set-up guest. */
  warm: GuestSession['warm'];
  timings: GuestSession['timings'];
};

export function bootReport(session: GuestSession): BootReport {
  const { hello, ready } = session;
  const statxDax = hello.statx.dax === true;
  return {
    profile: session.profile.name,
    runDir: session.runDir,
    consoleLog: session.files.consoleLog,
    transcript: session.transcript,
    kernel: {
      release: ready.release,
      version: ready.version,
      origin: session.kernel.origin,
      booted: session.kernel.vmlinux ?? session.kernel.bzImage,
      entry: session.kernel.vmlinux ? 'pvh' : 'bzImage',
    },
    accel: { used: session.accel.accel, reason: session.accel.reason },
    image: { path: session.image.path, cached: session.image.cached },
    nvdimms: hello.nvdimms.map((ns) => {
      const dev = ns.daxregion as { devices?: Array<{ chardev?: string }> } | undefined;
      return {
        slot: ns.slot,
        mode: ns.mode,
        size: ns.size,
        blockdev: ns.blockdev,
        chardev: dev?.devices?.[0]?.chardev,
        namespace: ns.dev,
        region: ns.region,
      };
    }),
    mount: hello.mount,
    statxDax,
    nvdimmSource: session.nvdimmSource,
    warm: session.warm,
    timings: session.timings,
  };
}

export function formatBootReport(r: BootReport): string {
  const lines = [
    `kernel    ${r.kernel.release} (${r.kernel.origin}), ${r.kernel.entry === 'pvh' ? 'vmlinux via the PVH entry' : 'bzImage'}`,
    `accel     ${r.accel.used}: ${r.accel.reason}`,
    ...r.nvdimms.map(
      (n) => `nvdimm ${n.slot}  ${n.mode} ${(n.size / 2 ** 20).toFixed(0)} MiB  ${n.namespace} (${n.region}) -> /dev/${n.blockdev ?? n.chardev}`,
    ),
    `mount     ${r.mount.device} on ${r.mount.mountpoint} type ${r.mount.fstype} (${r.mount.options})`,
    `statx     STATX_ATTR_DAX ${r.statxDax ? 'set: files on the mount are DAX' : 'NOT set: the mount is not DAX'}`,
    `nvdimms   ${
      r.nvdimmSource.kind === 'template'
        ? `namespaces and ${r.mount.fstype} from the profile's template ${r.nvdimmSource.dir} (mapped private)`
        : r.nvdimmSource.kind === 'made'
          ? `ndctl + mkfs in the guest, kept as the profile's template ${r.nvdimmSource.dir}`
          : 'ndctl + mkfs in the guest on fresh files'
    }`,
    `boot      ${
      r.warm.kind === 'restored'
        ? `restored from the warm start saved ${r.warm.savedAt} (${r.warm.dir}, ${(r.warm.bytes / 2 ** 20).toFixed(0)} MiB) in ${r.warm.restoreMs} ms`
        : r.warm.kind === 'saved'
          ? `cold, then saved as the warm start of the next boots (${r.warm.dir}, ${(r.warm.bytes / 2 ** 20).toFixed(0)} MiB, ${r.warm.saveMs} ms)`
          : `cold (${r.warm.why})`
    }`,
    `timings   ${Object.entries(r.timings)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ')}`,
    `console   ${r.consoleLog}`,
    `transcript ${r.transcript}`,
  ];
  return lines.join('\n');
}

export async function bootCommand(opts: { profile: string; json: boolean; verbose: boolean }): Promise<number> {
  const progress = consoleProgress({ verbose: opts.verbose });
  const profile = loadProfile(opts.profile);
  await ensureHost(progress, { install: true });
  const session = await GuestSession.boot(profile, { progress });
  let report: BootReport;
  try {
    report = bootReport(session);
  } finally {
    await session.shutdown();
  }
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatBootReport(report)}\n`);
  return report.statxDax ? 0 : 1;
}
