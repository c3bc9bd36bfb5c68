// The guest initramfs: busybox, the module closure, the shared-library closure of the real
// tools, the agent and the init, packed as cpio newc. Cached by content: the key covers every
// input (paths, sizes, mtimes of host files; bytes of generated ones), so an unchanged
// second boot rebuilds nothing.
import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { paths } from '../paths.js';
import { guestSourceDir } from './agentBuild.js';
import type { Profile } from '../config/profiles.js';
import { KernelError, type Kernel } from './kernel.js';
import { emptyModuleIndex, loadOrderLines, readModuleIndex, resolveLoadOrder, type LoadStep, type ModuleIndex, type Resolution, type Wanted } from './modules.js';
import type { Progress } from './progress.js';

// 2: modules come decompressed, with the host-resolved load order in etc/daxlab/modules.
// 3: etc/daxlab/modules.deps (each module's file and what it loads after: the agent loads
//    them itself, several at once) and busybox's applet links made at build, not at boot.
export const IMAGE_FORMAT = 3;
/** In the image: "name path after,after" a line, for every module it carries. */
export const MODULE_DEPS_FILE = 'etc/daxlab/modules.deps';
export const GUEST_TOOL_DIR = '/usr/libexec/daxlab';

/**
 * The modules the lab asks for, by what they are for. The kernel decides the rest: each
 * name's dependencies, softdeps and load order come from its modules.dep / modules.softdep /
 * modules.alias (src/vm/modules.ts); a name it has built in is skipped, one it lacks is
 * reported (and refused when the profile needs it: requiredModuleGroups).
 */
export const LAB_MODULES = {
  boot: { why: 'the agent channel (virtio-serial) and the NVDIMM stack (ACPI NFIT, pmem)', wanted: ['virtio_pci', 'virtio_console', 'nfit', 'nd_pmem'] },
  xfs: { why: 'the xfs filesystem', wanted: ['xfs'] },
  ext4: { why: 'the ext4 filesystem', wanted: ['ext4'] },
  devdax: { why: 'device-dax namespaces', wanted: ['dax_pmem', 'device_dax'] },
  nullBlk: { why: 'the slow null_blk device of the O_DIRECT scenarios', wanted: ['null_blk'] },
  rdma: {
    why: 'soft-RoCE memory registration (rdma_rxe on a dummy netdev)',
    // rdma_rxe asks the crypto API for "crc32" at run time (request_module) where crc32 is
    // a crypto module (6.1, 6.12); from 7.x it is library code and the alias is gone.
    wanted: ['dummy', 'rdma_rxe', 'ib_uverbs', { name: 'crypto-crc32', optional: true }],
  },
} satisfies Record<string, { why: string; wanted: Array<string | Wanted> }>;

export type ModuleGroup = keyof typeof LAB_MODULES;

/** What the image's kernel does with each group: the load order, and what it lacks. */
export type ModulePlan = {
  /** false: no modules tree (everything must be built in; the config check says what is missing). */
  known: boolean;
  groups: Record<ModuleGroup, Resolution>;
};

export function planModules(index: ModuleIndex | null): ModulePlan {
  const groups = {} as Record<ModuleGroup, Resolution>;
  for (const [group, { wanted }] of Object.entries(LAB_MODULES) as Array<[ModuleGroup, { wanted: Array<string | Wanted> }]>) {
    groups[group] = resolveLoadOrder(index ?? emptyModuleIndex(), wanted);
  }
  return { known: index !== null, groups };
}

/** The groups a profile cannot do without: boot, its filesystem, device-dax when it has one. */
export function requiredModuleGroups(profile: { fs: Pick<Profile['fs'], 'type'>; nvdimms: Array<Pick<Profile['nvdimms'][number], 'mode'>> }): ModuleGroup[] {
  const groups: ModuleGroup[] = ['boot', profile.fs.type];
  if (profile.nvdimms.some((n) => n.mode === 'devdax')) groups.push('devdax');
  return groups;
}

/** The guest's load order for these groups (names, "?" for a softdep whose failure is not fatal). */
export function moduleLoadOrder(plan: ModulePlan, groups: ModuleGroup[]): string[] {
  const steps = new Map<string, LoadStep>();
  for (const group of groups) {
    for (const step of plan.groups[group].order) {
      const seen = steps.get(step.name);
      if (!seen) steps.set(step.name, { ...step });
      else if (!step.soft) seen.soft = false;
    }
  }
  return loadOrderLines([...steps.values()]);
}

/** Modules the profile needs and the kernel has neither as a module nor built in. */
export function missingModules(plan: ModulePlan, groups: ModuleGroup[]): string[] {
  if (!plan.known) return [];
  return groups.flatMap((group) => plan.groups[group].missingRequired.map((name) => `${name} (${LAB_MODULES[group].why})`));
}

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
  /** decompress: the source is compressed (a .ko.xz / .ko.zst / .ko.gz module); dest gets the plain file. */
  | { type: 'file'; dest: string; src: string; mode?: number; decompress?: Decompressor }
  | { type: 'data'; dest: string; data: string; mode?: number }
  | { type: 'symlink'; dest: string; target: string };

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

export type Decompressor = 'xz' | 'zstd' | 'gzip';

/**
 * Busybox's insmod passes the file to init_module() as it is, and decompresses only what its
 * build knows (xz and gzip maybe, never zstd); the kernel decompresses only with
 * CONFIG_MODULE_DECOMPRESS. So the image carries every module uncompressed.
 */
export function moduleDecompressor(file: string): Decompressor | null {
  if (file.endsWith('.ko.xz')) return 'xz';
  if (file.endsWith('.ko.zst')) return 'zstd';
  if (file.endsWith('.ko.gz')) return 'gzip';
  return null;
}

/** Where a module of the kernel's tree lies in the image (always uncompressed). */
export function moduleImagePath(release: string, file: string): string {
  return `lib/modules/${release}/${moduleDecompressor(file) ? file.replace(/\.(xz|zst|gz)$/, '') : file}`;
}

/** Every module of every group, each once, as image entries under lib/modules/<release>/. */
export function moduleEntries(kernel: Kernel, plan: ModulePlan): ManifestEntry[] {
  if (!kernel.modulesDir) return [];
  const files = new Set<string>();
  for (const resolution of Object.values(plan.groups)) for (const step of resolution.order) files.add(step.file);
  return [...files].sort().map((file): ManifestEntry => {
    const decompress = moduleDecompressor(file);
    return { type: 'file', dest: moduleImagePath(kernel.release, file), src: path.join(kernel.modulesDir!, file), ...(decompress ? { decompress } : {}) };
  });
}

/**
 * etc/daxlab/modules.deps: for every module of every group, its file in the image and the
 * modules it must follow (from the kernel's own modules.dep and softdeps, resolved here).
 * The agent loads the profile's list with finit_module from this: no modprobe, no
 * resolution in the guest.
 */
export function moduleDepsFile(release: string, plan: ModulePlan): string {
  const steps = new Map<string, LoadStep>();
  for (const resolution of Object.values(plan.groups)) {
    for (const step of resolution.order) {
      const seen = steps.get(step.name);
      if (!seen) steps.set(step.name, { ...step, after: [...step.after] });
      else for (const a of step.after) if (!seen.after.includes(a)) seen.after.push(a);
    }
  }
  return [...steps.values()].map((s) => `${s.name} /${moduleImagePath(release, s.file)} ${s.after.join(',') || '-'}\n`).join('');
}

/** Busybox's applets as links (what busybox --install -s made at every boot), where no entry is. */
export async function busyboxAppletLinks(busybox: string, taken: Set<string>): Promise<ManifestEntry[]> {
  const r = await execa(busybox, ['--list-full'], { reject: false });
  if (r.exitCode !== 0) throw new KernelError(`${busybox} --list-full failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes('/') && !taken.has(l))
    .map((dest): ManifestEntry => ({ type: 'symlink', dest, target: '/bin/busybox' }));
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

export async function buildManifest(kernel: Kernel, agentBinary: string, plan: ModulePlan): Promise<ManifestEntry[]> {
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
  entries.push({ type: 'data', dest: MODULE_DEPS_FILE, data: moduleDepsFile(kernel.release, plan) });

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
    entries.push(...moduleEntries(kernel, plan));
    for (const meta of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
      const src = path.join(kernel.modulesDir, meta);
      if (fs.existsSync(src)) entries.push({ type: 'file', dest: `lib/modules/${kernel.release}/${meta}`, src });
    }
  }
  entries.push(...(await busyboxAppletLinks('/bin/busybox', new Set(entries.map((e) => e.dest)))));
  return entries;
}

/** The cache key: every input of the image, host files by path, size and mtime. */
export function manifestKey(entries: ManifestEntry[], statFile: (p: string) => { size: number; mtimeMs: number } = fs.statSync): string {
  const hash = crypto.createHash('sha256').update(`daxlab-image-${IMAGE_FORMAT}\n`);
  for (const e of [...entries].sort((a, b) => a.dest.localeCompare(b.dest))) {
    if (e.type === 'file') {
      const st = statFile(e.src);
      hash.update(`file ${e.dest} ${e.src} ${st.size} ${Math.trunc(st.mtimeMs)} ${e.mode ?? 0o644} ${e.decompress ?? ''}\n`);
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

const decompressCommand: Record<Decompressor, string[]> = { xz: ['xz', '-dc'], zstd: ['zstd', '-dcq'], gzip: ['gzip', '-dc'] };

async function stage(entries: ManifestEntry[], dir: string): Promise<void> {
  for (const e of entries) {
    const dest = path.join(dir, e.dest);
    fs.mkdirSync(e.type === 'dir' ? dest : path.dirname(dest), { recursive: true });
    if (e.type === 'file' && e.decompress) {
      const [tool, ...args] = decompressCommand[e.decompress];
      const r = await execa(tool!, [...args, e.src], { stdout: { file: dest }, reject: false });
      if (r.exitCode !== 0) throw new KernelError(`cannot decompress ${e.src} with ${tool}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
      fs.chmodSync(dest, e.mode ?? 0o644);
    } else if (e.type === 'file') {
      fs.copyFileSync(e.src, dest);
      fs.chmodSync(dest, e.mode ?? 0o644);
    } else if (e.type === 'data') {
      fs.writeFileSync(dest, e.data, { mode: e.mode ?? 0o644 });
    } else if (e.type === 'symlink') {
      fs.symlinkSync(e.target, dest);
    }
  }
}

export type GuestImage = { path: string; key: string; cached: boolean; entries: number; modules: ModulePlan };

/** Resolve the lab's modules against the kernel's own index, saying what it skips and lacks. */
export function kernelModulePlan(kernel: Kernel, progress: Progress): ModulePlan {
  const plan = planModules(kernel.modulesDir ? readModuleIndex(kernel.modulesDir) : null);
  logModulePlan(kernel, plan, progress);
  return plan;
}

/** The index files of a modules tree: the module plan is a function of these. */
const MODULE_INDEX_FILES = ['modules.dep', 'modules.softdep', 'modules.alias', 'modules.builtin', 'modules.builtin.modinfo', 'modules.order'];

/** This file and modules.ts: the code that turns the inputs into a manifest. */
const MANIFEST_CODE = [fileURLToPath(import.meta.url), fileURLToPath(new URL('./modules' + path.extname(fileURLToPath(import.meta.url)), import.meta.url))];

/** A file's identity for the host's memos (path, size, mtime, inode): no hashing of unchanged inputs. */
export function statStamp(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${file} ${st.size} ${Math.trunc(st.mtimeMs)} ${st.ino}`;
  } catch {
    return `${file} -`;
  }
}

/**
 * What the manifest is made from, as file stamps (path, size, mtime, inode): the kernel's
 * module index, the agent and the tools, the loader cache ldd resolves libraries through,
 * the lab's module groups and the code that builds the manifest. Nothing is read or hashed
 * but the stamps themselves.
 */
export function manifestInputsKey(kernel: Pick<Kernel, 'release' | 'modulesDir'>, agentBinary: string, stamp: (file: string) => string = statStamp): string {
  const files = [
    ...MANIFEST_CODE,
    path.join(guestSourceDir, 'init.sh'),
    '/bin/busybox',
    agentBinary,
    path.join(path.dirname(agentBinary), 'kstate/kstate_dump'),
    path.join(path.dirname(agentBinary), 'daxlab-verbs'),
    '/etc/mke2fs.conf',
    '/etc/ld.so.cache',
    VERBS_PROVIDER.lib,
    VERBS_PROVIDER.driver,
    ...GUEST_TOOLS.map((t) => t.host),
    ...(kernel.modulesDir ? MODULE_INDEX_FILES.map((f) => path.join(kernel.modulesDir!, f)) : []),
  ];
  const hash = crypto.createHash('sha256').update(`daxlab-manifest-${IMAGE_FORMAT}\n${kernel.release}\n${kernel.modulesDir ?? '-'}\n`);
  hash.update(JSON.stringify({ LAB_MODULES, GUEST_TOOLS, VERBS_PROVIDER, GUEST_TOOL_DIR }));
  for (const file of files) hash.update(`${stamp(file)}\n`);
  return hash.digest('hex').slice(0, 20);
}

type ManifestMemo = { key: string; entries: ManifestEntry[]; modules: ModulePlan };

/** The manifest of unchanged inputs, if its host files are still the ones it was made from. */
function readManifestMemo(file: string): ManifestMemo | null {
  try {
    const memo = JSON.parse(fs.readFileSync(file, 'utf8')) as ManifestMemo;
    return manifestKey(memo.entries) === memo.key ? memo : null;
  } catch {
    return null;
  }
}

function logModulePlan(kernel: Kernel, plan: ModulePlan, progress: Progress): void {
  if (!plan.known) return;
  const builtin = Object.values(plan.groups).flatMap((r) => r.builtin);
  const missing = Object.values(plan.groups).flatMap((r) => r.missing);
  if (builtin.length) progress.log('image', `${kernel.release} has built in: ${builtin.join(', ')}`);
  if (missing.length) progress.log('image', `${kernel.release} has no ${missing.join(', ')} (neither module nor built in)`);
}

export async function buildImage(kernel: Kernel, agentBinary: string, progress: Progress): Promise<GuestImage> {
  const dir = path.join(paths.cache, 'images');
  // Unchanged inputs (by their stamps): the manifest, module plan and key of last time, with
  // no module index parsed and no ldd run; the key is still checked against every file.
  const memoFile = path.join(dir, 'manifests', `${manifestInputsKey(kernel, agentBinary)}.json`);
  const memo = readManifestMemo(memoFile);
  if (memo) {
    const image = path.join(dir, `${kernel.release}-${memo.key}.cpio`);
    if (fs.existsSync(image)) {
      logModulePlan(kernel, memo.modules, progress);
      return { path: image, key: memo.key, cached: true, entries: memo.entries.length, modules: memo.modules };
    }
  }
  const modules = kernelModulePlan(kernel, progress);
  const entries = await buildManifest(kernel, agentBinary, modules);
  const key = manifestKey(entries);
  const image = path.join(dir, `${kernel.release}-${key}.cpio`);
  const remember = () => {
    fs.mkdirSync(path.dirname(memoFile), { recursive: true });
    const tmp = `${memoFile}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ key, entries, modules } satisfies ManifestMemo));
    fs.renameSync(tmp, memoFile);
  };
  if (fs.existsSync(image)) {
    remember();
    return { path: image, key, cached: true, entries: entries.length, modules };
  }

  progress.log('image', `building ${path.basename(image)} from ${entries.length} entries`);
  fs.mkdirSync(dir, { recursive: true });
  const stageDir = fs.mkdtempSync(path.join(dir, 'stage-'));
  try {
    await stage(entries, stageDir);
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
    remember();
  } finally {
    fs.rmSync(stageDir, { recursive: true, force: true });
  }
  return { path: image, key, cached: false, entries: entries.length, modules };
}
