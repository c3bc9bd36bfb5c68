// Guest preparation a scenario may need beyond the lab's set-up: a slow null_blk for I/O
// that stays in flight, soft-RoCE for RDMA registrations. Each says why it could not.

/** What preparation needs of the guest: a command run in it, and a line for people. */
export type GuestShell = {
  exec(argv: string[], timeoutMs?: number): Promise<{ status: number; stdout: string; stderr: string }>;
  log(line: string): void;
};

/** null_blk loaded with this completion time and /dev/nullb0 there; null, or why not. */
export async function ensureNullBlk(g: GuestShell, completionNs: number): Promise<string | null> {
  const param = await g.exec(['/bin/busybox', 'cat', '/sys/module/null_blk/parameters/completion_nsec']);
  if (param.status === 0) {
    const dev = await g.exec(['/bin/busybox', 'test', '-b', '/dev/nullb0']);
    if (Number(param.stdout.trim()) === completionNs && dev.status === 0) return null;
    const rm = await g.exec(['/bin/busybox', 'rmmod', 'null_blk']);
    if (rm.status !== 0) return `loaded with completion_nsec=${param.stdout.trim()} and cannot be unloaded: ${rm.stderr.trim()}`;
  }
  g.log(`loading null_blk (completion after ${completionNs / 1e6} ms) ...`);
  const mod = await g.exec(['/sbin/modprobe', 'null_blk', 'irqmode=2', `completion_nsec=${completionNs}`, 'nr_devices=1'], 120_000);
  if (mod.status !== 0) return `modprobe failed (${mod.status}): ${(mod.stderr || mod.stdout).trim()}`;
  const dev = await g.exec(['/bin/busybox', 'test', '-b', '/dev/nullb0']);
  return dev.status === 0 ? null : '/dev/nullb0 did not appear';
}

/** soft-RoCE (rdma_rxe on dummy0) and daxlab-verbs; null, or why not. */
export async function ensureRdma(g: GuestShell): Promise<string | null> {
  const verbs = await g.exec(['/bin/busybox', 'test', '-x', '/usr/libexec/daxlab/daxlab-verbs']);
  if (verbs.status !== 0) return 'the guest image has no daxlab-verbs (is libibverbs-dev installed on the host?)';
  const rdma = '/usr/libexec/daxlab/rdma';
  const link = await g.exec([rdma, 'link']);
  if (link.status === 0 && /\brxe0\b/.test(link.stdout)) return null;
  g.log('setting up soft-RoCE (rdma_rxe on dummy0) ...');
  for (const argv of [
    ['/sbin/modprobe', 'dummy'],
    ['/sbin/modprobe', 'rdma_rxe'],
    ['/sbin/modprobe', 'ib_uverbs'],
    ['/bin/busybox', 'ip', 'link', 'set', 'dummy0', 'up'],
    [rdma, 'link', 'add', 'rxe0', 'type', 'rxe', 'netdev', 'dummy0'],
  ]) {
    const r = await g.exec(argv, 60_000);
    if (r.status !== 0) return `${argv.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim()}`;
  }
  const after = await g.exec([rdma, 'link']);
  return /\brxe0\b/.test(after.stdout) ? null : `rxe0 did not appear (${after.stdout.trim()})`;
}
