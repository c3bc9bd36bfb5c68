// The guest initramfs: busybox, the module closure, the shared-library closure of the real
// tools, the agent and the init, packed as cpio newc. Cached by content: the key covers every
// input (paths, sizes, mtimes of host files; bytes of generated ones), so an unchanged
// second boot rebuilds nothing.
import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { paths } from '../paths.js';
import { guestSourceDir } from './agentBuild.js';
import type { Kernel } from './kernel.js';
import type { Progress } from './progress.js';

export const IMAGE_FORMAT = 1;
export const GUEST_TOOL_DIR = '/usr/libexec/daxlab';

/** Modules loaded by init on every boot: the agent channel and the NVDIMM stack. */
export const BOOT_MODULES = ['virtio_pci', 'virtio_console', 'nfit', 'nd_pmem'];
/** Modules the agent loads when a profile or scenario needs them. */
export const ON_DEMAND_MODULES = [
  'crc32c_generic', // before libcrc32c/xfs: busybox modprobe ignores softdeps
  'libcrc32c',
  'xfs',
  'ext4',
  'dax_pmem',
  'device_dax',
  'null_blk',
  'dummy',
  'crc32_generic',
  'rdma_rxe',
  'ib_uverbs',
];

/** Real tools copied into the image (busybox stands in for everything else). */
export const GUEST_TOOLS = [
  { name: 'ndctl', host: '/usr/bin/ndctl' },
  { name: 'mkfs.xfs', host: '/usr/sbin/mkfs.xfs' },
  { name: 'mke2fs', host: '/usr/sbin/mke2fs' },
  { name: 'rdma', host: '/usr/bin/rdma' },
];

/**
 * RDMA memory registration needs libibverbs and its soft-RoCE provider, loaded with
 * dlopen: the verbs actor (daxlab-verbs, built next to the agent, dynamically linked)
 * comes with the provider and the driver file that names it.
 */
export const VERBS_PROVIDER = { lib: '/usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so', driver: '/etc/libibverbs.d/rxe.driver' };

export type ManifestEntry =
  | { type: 'dir'; dest: string }
  | { type: 'file'; dest: string; src: string; mode?: number }
  | { type: 'data'; dest: string; data: string; mode?: number }
  | { type: 'symlink'; dest: string; target: string };

export type ModuleDep = { kind: 'insmod'; path: string } | { kind: 'builtin'; name: string };

/** Parse `modprobe --show-depends`: "insmod /lib/modules/.../x.ko [params]" or "builtin x". */
export function parseShowDepends(stdout: string): ModuleDep[] {
  const deps: ModuleDep[] = [];
  for (const line of stdout.split('\n')) {
    const insmod = /^insmod (\S+)/.exec(line);
    if (insmod) deps.push({ kind: 'insmod', path: insmod[1]! });
    const builtin = /^builtin (\S+)/.exec(line);
    if (builtin) deps.push({ kind: 'builtin', name: builtin[1]! });
  }
  return deps;
}

/** Parse ldd output into the absolute paths of the libraries and the loader. */
export function parseLdd(stdout: string): string[] {
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    const resolved = /=>\s+(\/\S+)/.exec(line);
    const direct = /^\s*(\/\S+)\s+\(0x/.exec(line);
    const lib = resolved?.[1] ?? direct?.[1];
    if (lib) libs.push(lib);
    if (/=>\s+not found/.test(line)) throw new Error(`ldd: ${line.trim()}`);
  }
  return libs;
}

async function moduleClosure(kernel: Kernel, progress: Progress): Promise<string[]> {
  if (!kernel.modulesDir) return [];
  const baseDir = path.resolve(kernel.modulesDir, '../../..');
  const files = new Set<string>();
  // -C /dev/null: the host's /etc/modprobe.d must not leak into the guest's closure.
  const r = await execa(
    'modprobe',
    ['-C', '/dev/null', '-d', baseDir, '-S', kernel.release, '--show-depends', '-a', ...BOOT_MODULES, ...ON_DEMAND_MODULES],
    { reject: false },
  );
  for (const line of r.stderr.split('\n').filter(Boolean)) progress.log('image', `${kernel.release}: ${line.trim()}`);
  for (const dep of parseShowDepends(r.stdout)) if (dep.kind === 'insmod') files.add(dep.path);
  return [...files].sort();
}

async function libraryClosure(binaries: string[]): Promise<string[]> {
  const libs = new Set<string>();
  for (const binary of binaries) {
    const r = await execa('ldd', [binary], { reject: false });
    if (r.exitCode !== 0) continue; // static: nothing to add
    for (const lib of parseLdd(r.stdout)) libs.add(lib);
  }
  return [...libs].sort();
}

export async function buildManifest(kernel: Kernel, agentBinary: string, progress: Progress): Promise<ManifestEntry[]> {
  const entries: ManifestEntry[] = [];
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc/daxlab', 'proc', 'sys', 'dev', 'run', 'tmp', 'mnt', 'lib64', GUEST_TOOL_DIR.slice(1)]) {
    entries.push({ type: 'dir', dest: dir });
  }
  entries.push({ type: 'file', dest: 'init', src: path.join(guestSourceDir, 'init.sh'), mode: 0o755 });
  entries.push({ type: 'file', dest: 'bin/busybox', src: '/bin/busybox', mode: 0o755 });
  entries.push({ type: 'symlink', dest: 'bin/sh', target: 'busybox' });
  entries.push({ type: 'file', dest: 'sbin/daxlab-agent', src: agentBinary, mode: 0o755 });
  // The agent's kernel-state reader as a command, for looking by hand (kstate_dump --pfn N).
  const kstateDump = path.join(path.dirname(agentBinary), 'kstate/kstate_dump');
  if (fs.existsSync(kstateDump)) entries.push({ type: 'file', dest: `${GUEST_TOOL_DIR.slice(1)}/kstate_dump`, src: kstateDump, mode: 0o755 });
  entries.push({ type: 'file', dest: 'etc/mke2fs.conf', src: '/etc/mke2fs.conf' });
  entries.push({ type: 'data', dest: 'etc/daxlab/modules', data: `${BOOT_MODULES.join('\n')}\n` });

  const tools = GUEST_TOOLS.filter((t) => fs.existsSync(t.host));
  for (const tool of tools) entries.push({ type: 'file', dest: `${GUEST_TOOL_DIR.slice(1)}/${tool.name}`, src: tool.host, mode: 0o755 });
  const dynamic = tools.map((t) => t.host);
  const verbs = path.join(path.dirname(agentBinary), 'daxlab-verbs');
  if (fs.existsSync(verbs) && fs.existsSync(VERBS_PROVIDER.lib) && fs.existsSync(VERBS_PROVIDER.driver)) {
    entries.push({ type: 'file', dest: `${GUEST_TOOL_DIR.slice(1)}/daxlab-verbs`, src: verbs, mode: 0o755 });
    entries.push({ type: 'file', dest: VERBS_PROVIDER.lib.slice(1), src: VERBS_PROVIDER.lib, mode: 0o755 });
    entries.push({ type: 'file', dest: VERBS_PROVIDER.driver.slice(1), src: VERBS_PROVIDER.driver });
    dynamic.push(verbs, VERBS_PROVIDER.lib);
  }
  for (const lib of await libraryClosure(dynamic)) {
    entries.push({ type: 'file', dest: lib.slice(1), src: lib, mode: 0o755 });
  }

  if (kernel.modulesDir) {
    const baseDir = path.resolve(kernel.modulesDir, '../../..');
    for (const file of await moduleClosure(kernel, progress)) {
      entries.push({ type: 'file', dest: path.relative(baseDir, file), src: file });
    }
    for (const meta of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
      const src = path.join(kernel.modulesDir, meta);
      if (fs.existsSync(src)) entries.push({ type: 'file', dest: `lib/modules/${kernel.release}/${meta}`, src });
    }
  }
  return entries;
}

/** The cache key: every input of the image, host files by path, size and mtime. */
export function manifestKey(entries: ManifestEntry[], statFile: (p: string) => { size: number; mtimeMs: number } = fs.statSync): string {
  const hash = crypto.createHash('sha256').update(`daxlab-image-${IMAGE_FORMAT}\n`);
  for (const e of [...entries].sort((a, b) => a.dest.localeCompare(b.dest))) {
    if (e.type === 'file') {
      const st = statFile(e.src);
      hash.update(`file ${e.dest} ${e.src} ${st.size} ${Math.trunc(st.mtimeMs)} ${e.mode ?? 0o644}\n`);
    } else if (e.type === 'data') {
      hash.update(`data ${e.dest} ${crypto.createHash('sha256').update(e.data).digest('hex')}\n`);
    } else if (e.type === 'symlink') {
      hash.update(`symlink ${e.dest} ${e.target}\n`);
    } else {
      hash.update(`dir ${e.dest}\n`);
    }
  }
  return hash.digest('hex').slice(0, 20);
}

function stage(entries: ManifestEntry[], dir: string): void {
  for (const e of entries) {
    const dest = path.join(dir, e.dest);
    fs.mkdirSync(e.type === 'dir' ? dest : path.dirname(dest), { recursive: true });
    if (e.type === 'file') {
      fs.copyFileSync(e.src, dest);
      fs.chmodSync(dest, e.mode ?? 0o644);
    } else if (e.type === 'data') {
      fs.writeFileSync(dest, e.data, { mode: e.mode ?? 0o644 });
    } else if (e.type === 'symlink') {
      fs.symlinkSync(e.target, dest);
    }
  }
}

export type GuestImage = { path: string; key: string; cached: boolean; entries: number };

export async function buildImage(kernel: Kernel, agentBinary: string, progress: Progress): Promise<GuestImage> {
  const entries = await buildManifest(kernel, agentBinary, progress);
  const key = manifestKey(entries);
  const dir = path.join(paths.cache, 'images');
  const image = path.join(dir, `${kernel.release}-${key}.cpio`);
  if (fs.existsSync(image)) return { path: image, key, cached: true, entries: entries.length };

  progress.log('image', `building ${path.basename(image)} from ${entries.length} entries`);
  fs.mkdirSync(dir, { recursive: true });
  const stageDir = fs.mkdtempSync(path.join(dir, 'stage-'));
  try {
    stage(entries, stageDir);
    if (kernel.modulesDir) {
      // modules.dep for just the modules in the image, so busybox modprobe resolves them.
      await execa('depmod', ['-b', stageDir, kernel.release]);
    }
    const list = fs
      .readdirSync(stageDir, { recursive: true, encoding: 'utf8' })
      .sort()
      .join('\n');
    const tmp = `${image}.tmp-${process.pid}`;
    await execa('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0', '--reproducible', '-O', tmp], {
      cwd: stageDir,
      input: `.\n${list}\n`,
    });
    fs.renameSync(tmp, image);
  } finally {
    fs.rmSync(stageDir, { recursive: true, force: true });
  }
  return { path: image, key, cached: false, entries: entries.length };
}
