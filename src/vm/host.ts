// Host set-up ("daxlab doctor"): every Debian package the lab needs, checked one by one,
// installed with apt when we are root, or the exact command printed when we are not.
import { execa } from 'execa';
import fs from 'node:fs';
import { CannotTestError } from '../exit.js';
import type { Progress } from './progress.js';

export type HostCheck = {
  id: string;
  why: string;
  package: string;
  /** A file the package must have put in place. */
  file: string;
};

export const hostChecks: HostCheck[] = [
  { id: 'qemu', why: 'runs the guest', package: 'qemu-system-x86', file: '/usr/bin/qemu-system-x86_64' },
  { id: 'busybox', why: 'the guest userland (static)', package: 'busybox-static', file: '/bin/busybox' },
  { id: 'ndctl', why: 'creates the fsdax namespace', package: 'ndctl', file: '/usr/bin/ndctl' },
  { id: 'xfsprogs', why: 'mkfs.xfs in the guest', package: 'xfsprogs', file: '/usr/sbin/mkfs.xfs' },
  { id: 'e2fsprogs', why: 'mkfs.ext4 in the guest', package: 'e2fsprogs', file: '/usr/sbin/mke2fs' },
  { id: 'kmod', why: 'depmod/modprobe resolve the module closure', package: 'kmod', file: '/usr/sbin/depmod' },
  { id: 'cpio', why: 'packs the initramfs', package: 'cpio', file: '/usr/bin/cpio' },
  { id: 'gcc', why: 'builds the guest agent', package: 'gcc', file: '/usr/bin/gcc' },
  { id: 'make', why: 'builds the guest agent', package: 'make', file: '/usr/bin/make' },
  { id: 'libc-static', why: 'the agent is linked statically', package: 'libc6-dev', file: '/usr/lib/x86_64-linux-gnu/libc.a' },
  { id: 'libbpf', why: "the agent reads the kernel's BTF with libbpf", package: 'libbpf-dev', file: '/usr/lib/x86_64-linux-gnu/libbpf.a' },
  { id: 'libelf', why: 'libbpf needs it', package: 'libelf-dev', file: '/usr/lib/x86_64-linux-gnu/libelf.a' },
  { id: 'zlib', why: 'libbpf needs it', package: 'zlib1g-dev', file: '/usr/lib/x86_64-linux-gnu/libz.a' },
  { id: 'zstd', why: 'libelf needs it', package: 'libzstd-dev', file: '/usr/lib/x86_64-linux-gnu/libzstd.a' },
  { id: 'json-c', why: 'the agent speaks JSON lines', package: 'libjson-c-dev', file: '/usr/lib/x86_64-linux-gnu/libjson-c.a' },
  { id: 'liburing', why: 'io_uring actions', package: 'liburing-dev', file: '/usr/lib/x86_64-linux-gnu/liburing.a' },
  { id: 'iproute2', why: 'rdma link for soft-RoCE', package: 'iproute2', file: '/usr/bin/rdma' },
  { id: 'rdma-core', why: 'soft-RoCE verbs in the guest', package: 'ibverbs-providers', file: '/usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so' },
  { id: 'bpftool', why: "cross-checks the agent's BTF offsets in the tests", package: 'bpftool', file: '/usr/sbin/bpftool' },
  { id: 'xz', why: 'extracts vmlinux from the Debian bzImage for the BTF tests', package: 'xz-utils', file: '/usr/bin/xz' },
  { id: 'libibverbs', why: 'RDMA memory registration actor', package: 'libibverbs-dev', file: '/usr/include/infiniband/verbs.h' },
  { id: 'zstd', why: "extracts vmlinux from zstd-compressed bzImages (6.12 and later) and zstd modules", package: 'zstd', file: '/usr/bin/zstd' },
  { id: 'flex', why: "the kconfig test runs the kernel's own make olddefconfig", package: 'flex', file: '/usr/bin/flex' },
  { id: 'bison', why: "the kconfig test runs the kernel's own make olddefconfig", package: 'bison', file: '/usr/bin/bison' },
  { id: 'pahole', why: "kernel builds with BTF (and the kconfig test: DEBUG_INFO_BTF_MODULES needs pahole >= 1.19 on the host)", package: 'dwarves', file: '/usr/bin/pahole' },
  { id: 'tmux', why: 'the TUI end-to-end test drives daxlab in a real terminal', package: 'tmux', file: '/usr/bin/tmux' },
];

export type CheckResult = HostCheck & { status: 'ok' | 'missing' | 'fixed' };

export function missingChecks(checks = hostChecks): HostCheck[] {
  return checks.filter((check) => !fs.existsSync(check.file));
}

export function installCommand(packages: string[]): string[] {
  return ['apt-get', 'install', '-y', '--no-install-recommends', ...packages];
}

const isRoot = () => process.getuid?.() === 0;

async function apt(argv: string[], progress: Progress): Promise<void> {
  const child = execa(argv[0]!, argv.slice(1), {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
    stdin: 'ignore',
    all: true,
    reject: false,
  });
  for await (const line of child.iterable({ from: 'all' })) progress.log('host', String(line));
  const result = await child;
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')} failed with exit code ${result.exitCode}`);
}

/**
 * Check every host package; install what is missing when allowed.
 * Returns each check's status; throws with the exact command to run when it cannot fix things.
 */
export async function ensureHost(progress: Progress, opts: { install: boolean }): Promise<CheckResult[]> {
  const missing = missingChecks();
  if (missing.length === 0) return hostChecks.map((c) => ({ ...c, status: 'ok' }));
  const packages = [...new Set(missing.map((c) => c.package))];
  if (!opts.install || !isRoot()) {
    const cmd = installCommand(packages).join(' ');
    throw new HostSetupError(
      `missing host packages: ${packages.join(', ')}\n  ${missing.map((c) => `${c.package}: ${c.why}`).join('\n  ')}\n` +
        `fix: ${isRoot() ? '' : 'sudo '}apt-get update && ${isRoot() ? '' : 'sudo '}${cmd}`,
      missing,
    );
  }
  progress.start('host', `installing ${packages.join(' ')}`);
  const began = performance.now();
  await apt(['apt-get', 'update', '-q'], progress);
  await apt(installCommand(packages), progress);
  progress.done('host', Math.round(performance.now() - began));
  const still = missingChecks();
  if (still.length) throw new HostSetupError(`installed, yet still missing: ${still.map((c) => c.file).join(', ')}`, still);
  return hostChecks.map((c) => ({ ...c, status: missing.includes(c) ? 'fixed' : 'ok' }));
}

export class HostSetupError extends CannotTestError {
  constructor(
    message: string,
    readonly missing: HostCheck[],
  ) {
    super(message);
  }
}
