// The guest kernel: a Debian kernel of any suite fetched with apt-get download and unpacked
// into the cache (nothing installed on the host), a bzImage + modules tree named by a
// profile, or a built kernel tree. A kernel that lacks what the lab needs is refused before
// boot, naming the missing options.
import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CannotTestError } from '../exit.js';
import type { Profile } from '../config/profiles.js';
import { checkInputFile } from '../inputs.js';
import { packageRoot, paths } from '../paths.js';
import { DebianError, hostDebianMirrors, resolveKernelPackages, SuiteApt, type DebPackage } from './debian.js';
import type { Progress } from './progress.js';

export type Kernel = {
  release: string;
  bzImage: string;
  /**
   * The uncompressed vmlinux, when the kernel has CONFIG_PVH: QEMU boots it through the
   * PVH entry, which skips the real-mode setup and the decompression (half the boot time
   * of the Debian kernel under TCG). null: boot the bzImage.
   */
  vmlinux?: string | null;
  /** lib/modules/<release> with modules.dep, or null for a kernel with everything built in. */
  modulesDir: string | null;
  configFile: string | null;
  /** What it is, for reports: "Debian linux-image-6.1.0-56-amd64 6.1.192-2" or a path. */
  origin: string;
};

export class KernelError extends CannotTestError {}

export type BzImageHeader = {
  /** The first word of the kernel_version string: what `uname -r` will say. */
  release: string;
  /** The whole kernel_version string ("6.12.95+deb12-amd64 (debian-kernel@...) #1 SMP ..."). */
  version: string;
  /** Boot protocol, e.g. "2.15". */
  protocol: string;
  setupBytes: number;
};

/**
 * Read a bzImage's setup header (Documentation/arch/x86/boot.rst): "HdrS" at 0x202, the
 * protocol at 0x206, setup_sects at 0x1f1 and the kernel_version pointer at 0x20e, which
 * points 0x200 bytes before the string, inside the setup code. That string sits past the
 * first 16 KiB on 6.12 and 7.2: read it where the header says.
 */
export function readBzImageHeader(file: string): BzImageHeader {
  let fd: number;
  try {
    if (fs.statSync(file).isDirectory()) {
      throw new KernelError(`${file} is a directory, not a bzImage: name the file (arch/x86/boot/bzImage of a built tree, or /boot/vmlinuz-<release>)`);
    }
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if (err instanceof KernelError) throw err;
    throw new KernelError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const head = Buffer.alloc(0x240);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n >= 4 && head.readUInt32BE(0) === 0x7f454c46) {
      throw new KernelError(`${file} is an ELF file (a vmlinux?), not a bzImage: name arch/x86/boot/bzImage instead`);
    }
    if (n < 0x210 || head.toString('latin1', 0x202, 0x206) !== 'HdrS') {
      throw new KernelError(`${file} is not a bzImage (no "HdrS" boot header): name arch/x86/boot/bzImage of a built tree, or /boot/vmlinuz-<release>`);
    }
    const protocolWord = head.readUInt16LE(0x206);
    const protocol = `${protocolWord >> 8}.${String(protocolWord & 0xff).padStart(2, '0')}`;
    const setupSects = head[0x1f1] || 4;
    const setupBytes = (setupSects + 1) * 512;
    const pointer = head.readUInt16LE(0x20e);
    if (protocolWord < 0x200 || pointer === 0) throw new KernelError(`${file}: its setup header (boot protocol ${protocol}) names no kernel version string`);
    const at = 0x200 + pointer;
    if (at >= setupBytes) throw new KernelError(`${file}: the kernel version string (at 0x${at.toString(16)}) lies past the setup code (0x${setupBytes.toString(16)} bytes): not a bzImage we can read`);
    const text = Buffer.alloc(Math.min(256, setupBytes - at));
    const got = fs.readSync(fd, text, 0, text.length, at);
    const version = text.toString('latin1', 0, got).split('\0')[0]!.trim();
    const release = version.split(/\s/)[0] ?? '';
    if (!release) throw new KernelError(`${file}: the kernel version string in its setup header is empty`);
    return { release, version, protocol, setupBytes };
  } finally {
    fs.closeSync(fd);
  }
}

/** The release a bzImage will report in uname -r. */
export function bzImageRelease(file: string): string {
  return readBzImageHeader(file).release;
}

// ---------------------------------------------------------------------------------------
// Debian kernels.

/** What a finished kernel directory records: the exact packages, for reports and offline use. */
type DebianStamp = { suite: string; packages: Array<{ name: string; version: string }>; release: string };

/**
 * Where an unpacked Debian kernel keeps its parts: 6.x has /boot/vmlinuz-<v> and
 * /lib/modules/<v>; 7.x (linux-binary/-modules/-base) has everything under
 * usr/lib/modules/<v>/ and no /boot. lib -> usr/lib makes both one layout for depmod.
 */
export function locateUnpackedKernel(root: string): { release: string; bzImage: string; config: string | null; modulesDir: string } {
  if (!fs.existsSync(path.join(root, 'lib')) && fs.existsSync(path.join(root, 'usr/lib/modules'))) fs.symlinkSync('usr/lib', path.join(root, 'lib'));
  const modulesRoot = path.join(root, 'lib/modules');
  const releases = fs.existsSync(modulesRoot) ? fs.readdirSync(modulesRoot).filter((d) => fs.statSync(path.join(modulesRoot, d)).isDirectory()) : [];
  if (releases.length !== 1) throw new KernelError(`the unpacked packages in ${root} have ${releases.length ? `several module trees (${releases.join(', ')})` : 'no lib/modules/<release>'}`);
  const release = releases[0]!;
  const modulesDir = path.join(modulesRoot, release);
  const bzImage = [path.join(root, `boot/vmlinuz-${release}`), path.join(modulesDir, 'vmlinuz')].find((f) => fs.existsSync(f));
  if (!bzImage) throw new KernelError(`the packages for ${release} have no kernel image (neither boot/vmlinuz-${release} nor lib/modules/${release}/vmlinuz)`);
  const config = [path.join(root, `boot/config-${release}`), path.join(modulesDir, 'config')].find((f) => fs.existsSync(f)) ?? null;
  return { release, bzImage, config, modulesDir };
}

/** "Debian sid linux-image-7.2.13+deb14-amd64 7.2.13-1 (+ base, binary, modules)" */
function debianOrigin(stamp: DebianStamp): string {
  const main = stamp.packages.find((p) => /^linux-image-/.test(p.name)) ?? stamp.packages[0]!;
  const parts = stamp.packages.filter((p) => p !== main).map((p) => p.name.split('-')[1]!);
  return `Debian ${stamp.suite} ${main.name} ${main.version}${parts.length ? ` (+ ${parts.sort().join(', ')})` : ''}`;
}

function finishedDebianKernel(dir: string): Kernel | null {
  let stamp: DebianStamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8')) as DebianStamp;
  } catch {
    return null;
  }
  const found = locateUnpackedKernel(path.join(dir, 'root'));
  return {
    release: found.release,
    bzImage: found.bzImage,
    modulesDir: found.modulesDir,
    configFile: found.config,
    origin: debianOrigin(stamp),
  };
}

/** The cache directory of one exact set of packages ("linux-image-6.12.95+deb12-amd64_6.12.95-1~bpo12+1"). */
export function debianKernelDirName(packages: Array<{ name: string; version: string }>): string {
  const main = packages.find((p) => /^linux-image-/.test(p.name)) ?? packages[0]!;
  return `${main.name}_${main.version}`.replace(/[^A-Za-z0-9.+~_-]/g, '_');
}

/**
 * What a spec resolved to, and (lists) the state of the suite's package lists then: while
 * the lists are the same files, apt would answer the same, so a boot asks apt nothing.
 */
type Resolved = Record<string, { dir: string; at: string; lists?: string }>;

function resolvedFile(): string {
  return path.join(paths.cache, 'kernels', 'resolved.json');
}

function readResolved(): Resolved {
  try {
    return JSON.parse(fs.readFileSync(resolvedFile(), 'utf8')) as Resolved;
  } catch {
    return {};
  }
}

async function debianKernel(spec: { package: string; suite: string }, progress: Progress): Promise<Kernel> {
  const store = path.join(paths.cache, 'kernels');
  fs.mkdirSync(store, { recursive: true });
  const key = `${spec.suite}/${spec.package}`;
  const apt = new SuiteApt(paths.cache, spec.suite, hostDebianMirrors());
  let packages: DebPackage[];
  try {
    await apt.update(progress);
    // The same lists as when this spec last resolved: the same packages (apt-cache show
    // parses the whole Packages file on every call, seconds for sid).
    const lists = apt.listsStamp();
    const last = readResolved()[key];
    if (lists && last?.lists === lists) {
      const kernel = finishedDebianKernel(path.join(store, last.dir));
      if (kernel) return kernel;
    }
    packages = await resolveKernelPackages(spec.package, (name) => apt.show(name)).catch(async (err: Error) => {
      // A package newer than our lists: refresh once before saying it does not exist.
      await apt.update(progress, true);
      return resolveKernelPackages(spec.package, (name) => apt.show(name)).catch(() => {
        throw err;
      });
    });
  } catch (err) {
    if (!(err instanceof DebianError)) throw err;
    // Offline: the kernel this very spec resolved to last time, if it is still here. Never another one.
    const last = readResolved()[key];
    const kernel = last && /failed \(offline\?\)/.test(err.message) ? finishedDebianKernel(path.join(store, last.dir)) : null;
    if (kernel) {
      progress.log('kernel', `${err.message.split('\n')[0]}: using ${kernel.origin}, which ${spec.package} (${spec.suite}) named on ${last!.at}`);
      return kernel;
    }
    if (/^no package /.test(err.message)) {
      const images = await apt.kernelImages();
      const flavours = images.filter((n) => !/^linux-image-\d/.test(n)).slice(0, 12);
      throw new KernelError(
        `Debian ${spec.suite} has no package ${spec.package}.` + (flavours.length ? ` Kernel packages there include: ${flavours.join(', ')}` : ''),
      );
    }
    throw new KernelError(`cannot get ${spec.package} from Debian ${spec.suite}: ${err.message}`);
  }

  const dirName = debianKernelDirName(packages);
  const dir = path.join(store, dirName);
  const ready = finishedDebianKernel(dir);
  if (ready) {
    rememberResolved(key, dirName, apt.listsStamp());
    return ready;
  }

  progress.start('kernel', `fetching ${packages.map((p) => p.name).join(', ')} from Debian ${spec.suite}`);
  const began = performance.now();
  fs.rmSync(dir, { recursive: true, force: true });
  const debs = path.join(dir, 'debs');
  fs.mkdirSync(debs, { recursive: true });
  try {
    await apt.download(packages, debs, progress);
  } catch (err) {
    throw new KernelError((err as Error).message);
  }
  const root = path.join(dir, 'root');
  for (const deb of fs.readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
    progress.log('kernel', `unpacking ${deb}`);
    const r = await execa('dpkg-deb', ['-x', path.join(debs, deb), root], { reject: false });
    if (r.exitCode !== 0) throw new KernelError(`dpkg-deb -x ${deb} failed: ${r.stderr.trim()}`);
  }
  const found = locateUnpackedKernel(root);
  // Debian ships no modules.dep (postinst runs depmod): run it on our copy.
  await runDepmod(root, found.release);
  fs.rmSync(debs, { recursive: true, force: true });
  const stamp: DebianStamp = { suite: spec.suite, packages: packages.map((p) => ({ name: p.name, version: p.version })), release: found.release };
  fs.writeFileSync(path.join(dir, 'kernel.json'), `${JSON.stringify(stamp, null, 1)}\n`);
  rememberResolved(key, dirName, apt.listsStamp());
  progress.done('kernel', Math.round(performance.now() - began), `${found.release} (${packages.map((p) => p.version)[0]})`);
  return finishedDebianKernel(dir)!;
}

function rememberResolved(key: string, dir: string, lists: string | null): void {
  const all = readResolved();
  const previous = all[key];
  // Unchanged: no write (several boots may read it at once).
  if (previous?.dir === dir && previous.lists === (lists ?? undefined)) return;
  all[key] = { dir, at: new Date().toISOString(), ...(lists ? { lists } : {}) };
  const tmp = `${resolvedFile()}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(all, null, 1)}\n`);
  fs.renameSync(tmp, resolvedFile());
}

async function runDepmod(base: string, release: string): Promise<void> {
  const r = await execa('depmod', ['-b', base, release], { reject: false });
  if (r.exitCode !== 0) throw new KernelError(`depmod -b ${base} ${release} failed: ${r.stderr.trim()}`);
}

// ---------------------------------------------------------------------------------------
// The user's own kernel: a bzImage and a modules tree, or a built kernel tree.

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/**
 * A modules tree without modules.dep (a copy of an unpacked package, say): the lab's own
 * copy in the cache, whose subdirectories link to the original, gets depmod's index.
 */
async function indexedModulesDir(modulesDir: string, release: string, progress: Progress): Promise<string> {
  if (fs.existsSync(path.join(modulesDir, 'modules.dep'))) return modulesDir;
  const stat = fs.statSync(modulesDir);
  const id = crypto.createHash('sha256').update(`${modulesDir}\n${Math.trunc(stat.mtimeMs)}`).digest('hex').slice(0, 12);
  const base = path.join(paths.cache, 'modules', `${release}-${id}`);
  const copy = path.join(base, 'lib/modules', release);
  if (fs.existsSync(path.join(copy, 'modules.dep'))) return copy;
  progress.log('kernel', `${modulesDir} has no modules.dep: running depmod on the lab's copy (${copy})`);
  fs.rmSync(base, { recursive: true, force: true });
  fs.mkdirSync(copy, { recursive: true });
  for (const entry of fs.readdirSync(modulesDir, { withFileTypes: true })) {
    const src = path.join(modulesDir, entry.name);
    if (entry.isDirectory()) fs.symlinkSync(src, path.join(copy, entry.name));
    else if (entry.isFile() && /^modules\.(order|builtin|builtin\.modinfo)$/.test(entry.name)) fs.copyFileSync(src, path.join(copy, entry.name));
  }
  await runDepmod(base, release);
  return copy;
}

/**
 * A path kernel's files as the profile names them, checked without reading more than
 * the bzImage's header: precheckKernel and pathKernel both start here.
 */
function pathKernelFiles(spec: Extract<Profile['kernel'], { source: 'path' }>): {
  bzImage: string;
  release: string;
  modulesDir: string | null;
  configFile: string | null;
} {
  const bzImage = path.resolve(expandHome(spec.bzImage));
  if (!fs.existsSync(bzImage)) {
    throw new KernelError(`kernel.bzImage: ${bzImage} does not exist. Point it at a built arch/x86/boot/bzImage.`);
  }
  const release = bzImageRelease(bzImage);
  let modulesDir: string | null = null;
  if (spec.modules) {
    modulesDir = path.resolve(expandHome(spec.modules));
    if (!fs.existsSync(modulesDir) || !fs.statSync(modulesDir).isDirectory()) {
      throw new KernelError(`kernel.modules: ${modulesDir} is not a directory. Point it at lib/modules/<release> of "make modules_install INSTALL_MOD_PATH=..." output.`);
    }
    if (path.basename(modulesDir) !== release) {
      throw new KernelError(`kernel.modules: ${modulesDir} is for "${path.basename(modulesDir)}" but the bzImage is "${release}".`);
    }
  }
  const configFile = spec.config ? path.resolve(expandHome(spec.config)) : null;
  if (configFile && (!fs.existsSync(configFile) || !fs.statSync(configFile).isFile())) throw new KernelError(`kernel.config: ${configFile} is not a file.`);
  return { bzImage, release, modulesDir, configFile };
}

async function pathKernel(spec: Extract<Profile['kernel'], { source: 'path' }>, progress: Progress): Promise<Kernel> {
  const { bzImage, release, modulesDir: given, configFile } = pathKernelFiles(spec);
  const modulesDir = given ? await indexedModulesDir(given, release, progress) : null;
  return { release, bzImage, modulesDir, configFile, origin: bzImage };
}

/** A kernel tree's directory and its .config: precheckKernel and treeKernel both start here. */
function treeDir(spec: { dir: string }): { dir: string; configFile: string } {
  const dir = path.resolve(expandHome(spec.dir));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new KernelError(`kernel.dir: ${dir} is not a directory. Name a built kernel tree (where you ran make).`);
  const configFile = path.join(dir, '.config');
  if (!fs.existsSync(configFile)) {
    throw new KernelError(`kernel.dir: ${dir} has no .config: not a configured kernel tree. Configure it (make x86_64_defconfig, then merge profiles/daxlab.config) and build it.`);
  }
  return { dir, configFile };
}

/** The tree's bzImage and the release its header names. */
function treeBzImage(dir: string): { bzImage: string; release: string } {
  const bzImage = path.join(dir, 'arch/x86/boot/bzImage');
  if (!fs.existsSync(bzImage)) throw new KernelError(`kernel tree ${dir} is not built (no arch/x86/boot/bzImage): run make -j$(nproc) bzImage modules there.`);
  return { bzImage, release: bzImageRelease(bzImage) };
}

/**
 * A built kernel tree (the directory "make" ran in): its bzImage, its .config (checked
 * against what the lab needs before anything else) and its modules, installed into the
 * lab's cache with make modules_install (stripped: the image stays small, BTF stays).
 */
async function treeKernel(spec: { dir: string }, profile: Profile, progress: Progress): Promise<Kernel> {
  const { dir, configFile } = treeDir(spec);
  const config = parseKernelConfig(fs.readFileSync(configFile, 'utf8'));
  const missing = missingFromConfig(config, requiredOptions(profile), config.get('MODULES') === 'y');
  if (missing.length) {
    throw new KernelError(
      `kernel tree ${dir}: its .config lacks what the lab needs:\n  ${missing.join('\n  ')}\n` +
        `fix: scripts/kconfig/merge_config.sh -m .config ${path.join(packageRoot, 'profiles/daxlab.config')} && make olddefconfig && make bzImage modules`,
    );
  }
  const { bzImage, release } = treeBzImage(dir);
  const treeRelease = fs.existsSync(path.join(dir, 'include/config/kernel.release')) ? fs.readFileSync(path.join(dir, 'include/config/kernel.release'), 'utf8').trim() : release;
  if (treeRelease !== release) {
    throw new KernelError(`kernel tree ${dir}: the bzImage is ${release} but the tree is now ${treeRelease}: rebuild (make bzImage modules).`);
  }
  let modulesDir: string | null = null;
  if (config.get('MODULES') === 'y') {
    const order = path.join(dir, 'modules.order');
    if (!fs.existsSync(order)) throw new KernelError(`kernel tree ${dir} has CONFIG_MODULES=y but no modules.order: run make modules there.`);
    const stamp = [bzImage, order].map((f) => `${f} ${Math.trunc(fs.statSync(f).mtimeMs)}`).join('\n');
    const id = crypto.createHash('sha256').update(`${dir}\n${stamp}`).digest('hex').slice(0, 12);
    const base = path.join(paths.cache, 'trees', `${release}-${id}`);
    modulesDir = path.join(base, 'lib/modules', release);
    if (!fs.existsSync(path.join(base, '.complete'))) {
      fs.rmSync(base, { recursive: true, force: true });
      fs.mkdirSync(base, { recursive: true });
      const began = performance.now();
      progress.start('kernel', `make modules_install from ${dir} into the lab's cache`);
      const child = execa('make', ['-C', dir, '-s', 'modules_install', `INSTALL_MOD_PATH=${base}`, 'INSTALL_MOD_STRIP=1'], {
        reject: false,
        stdin: 'ignore',
        all: true,
      });
      for await (const line of child.iterable({ from: 'all' })) progress.log('kernel', String(line));
      const r = await child;
      if (r.exitCode !== 0 || !fs.existsSync(path.join(modulesDir, 'modules.dep'))) {
        throw new KernelError(`make modules_install in ${dir} failed (exit ${r.exitCode}):\n  ${(r.all ?? '').split('\n').slice(-6).join('\n  ')}`);
      }
      fs.writeFileSync(path.join(base, '.complete'), `${stamp}\n`);
      progress.done('kernel', Math.round(performance.now() - began), modulesDir);
    }
  }
  return { release, bzImage, modulesDir, configFile, origin: `tree ${dir}` };
}

/**
 * What can be checked of a profile's kernel on the host in milliseconds, without a
 * download, a depmod or a modules_install: a compare or a matrix checks every side with
 * it before the first side resolves (and fetches) its kernel, so a typo in side B does not
 * cost side A's download. resolveKernel starts with the same checks and does more.
 */
export function precheckKernel(profile: Profile): void {
  const spec = profile.kernel;
  if (spec.source === 'path') pathKernelFiles(spec);
  else if (spec.source === 'tree') treeBzImage(treeDir(spec).dir);
}

export async function resolveKernel(profile: Profile, progress: Progress): Promise<Kernel> {
  const spec = profile.kernel;
  const kernel =
    spec.source === 'debian' ? await debianKernel(spec, progress) : spec.source === 'tree' ? await treeKernel(spec, profile, progress) : await pathKernel(spec, progress);
  kernel.vmlinux = await pvhVmlinux(kernel, progress);
  return kernel;
}

/** Compressed payloads a bzImage may carry, as scripts/extract-vmlinux looks for them. */
const payloads = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: ['xz', '-dc'] },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: ['zstd', '-dc'] },
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), tool: ['gzip', '-dc'] },
];

/** Extract (once, into the cache) the vmlinux of a PVH-capable kernel. */
async function pvhVmlinux(kernel: Kernel, progress: Progress): Promise<string | null> {
  if (!kernel.configFile || parseKernelConfig(fs.readFileSync(kernel.configFile, 'utf8')).get('PVH') !== 'y') return null;
  const stat = fs.statSync(kernel.bzImage);
  const out = path.join(paths.cache, 'vmlinux', `${kernel.release}-${stat.size}-${Math.trunc(stat.mtimeMs)}`);
  if (fs.existsSync(out)) return out;
  const image = fs.readFileSync(kernel.bzImage);
  for (const { magic, tool } of payloads) {
    const at = image.indexOf(magic);
    if (at < 0) continue;
    progress.log('kernel', `extracting vmlinux for a PVH boot (${tool[0]})`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const tmp = `${out}.tmp-${process.pid}`;
    // The payload is followed by the rest of the bzImage: the decompressor complains, and
    // the ELF check below is what counts.
    await execa(tool[0]!, tool.slice(1), { input: image.subarray(at), stdout: { file: tmp }, reject: false });
    const head = Buffer.alloc(4);
    const fd = fs.openSync(tmp, 'r');
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    if (head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
      fs.renameSync(tmp, out);
      return out;
    }
    fs.rmSync(tmp, { force: true });
  }
  progress.log('kernel', `no vmlinux found inside ${kernel.bzImage}: booting the bzImage`);
  return null;
}

export function parseKernelConfig(text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m) options.set(m[1]!, m[2]!);
  }
  return options;
}

export type LabOption = {
  option: string;
  why: string;
  /** required: the lab cannot run without it (exit 125); scenario: some scenarios or probes need it. */
  need: 'required' | 'scenario';
  /** Only for profiles with this filesystem / with a device-dax namespace. */
  when?: 'xfs' | 'ext4' | 'devdax';
};

/**
 * Every kernel option the lab relies on: the one list behind the pre-boot check, the
 * tree check and the suite test that merges profiles/daxlab.config into x86_64_defconfig.
 */
export const LAB_OPTIONS: LabOption[] = [
  { option: 'BLK_DEV_INITRD', why: 'the guest boots from an initramfs', need: 'required' },
  { option: 'DEVTMPFS', why: 'device nodes without udev', need: 'required' },
  { option: 'VIRTIO_PCI', why: 'the agent channel', need: 'required' },
  { option: 'VIRTIO_CONSOLE', why: 'the agent channel (virtio-serial)', need: 'required' },
  { option: 'ACPI_NFIT', why: "QEMU's NVDIMMs are described by the ACPI NFIT", need: 'required' },
  { option: 'LIBNVDIMM', why: 'NVDIMM support', need: 'required' },
  { option: 'BLK_DEV_PMEM', why: 'the pmem block device of an fsdax namespace', need: 'required' },
  { option: 'NVDIMM_PFN', why: 'fsdax namespaces (struct pages for pmem)', need: 'required' },
  { option: 'ZONE_DEVICE', why: 'struct pages for pmem (fsdax mode)', need: 'required' },
  { option: 'FS_DAX', why: 'mount -o dax', need: 'required' },
  { option: 'DEBUG_INFO_BTF', why: "the agent takes every struct offset from the kernel's BTF", need: 'required' },
  { option: 'KALLSYMS_ALL', why: 'the observer finds vmemmap_base, init_top_pgt and other data symbols in kallsyms', need: 'required' },
  { option: 'PROC_KCORE', why: 'the observer reads struct pages through /proc/kcore', need: 'required' },
  { option: 'XFS_FS', why: 'the xfs filesystem', need: 'required', when: 'xfs' },
  { option: 'EXT4_FS', why: 'the ext4 filesystem', need: 'required', when: 'ext4' },
  { option: 'DEV_DAX', why: 'device-dax namespaces', need: 'required', when: 'devdax' },
  { option: 'DEV_DAX_PMEM', why: 'device-dax on pmem', need: 'required', when: 'devdax' },
  { option: 'NVDIMM_DAX', why: 'devdax namespaces (ndctl -m devdax)', need: 'required', when: 'devdax' },
  { option: 'FTRACE', why: 'tracepoint events (fs_dax, filelock, lock)', need: 'scenario' },
  { option: 'KPROBE_EVENTS', why: 'probe events on GUP and break-layouts functions', need: 'scenario' },
  { option: 'IO_URING', why: 'io_uring fixed-buffer scenarios', need: 'scenario' },
  { option: 'BLK_DEV_NULL_BLK', why: 'the slow device of the O_DIRECT scenarios', need: 'scenario' },
  { option: 'DUMMY', why: 'the netdev soft-RoCE runs on', need: 'scenario' },
  { option: 'RDMA_RXE', why: 'soft-RoCE memory registration', need: 'scenario' },
  { option: 'INFINIBAND_USER_ACCESS', why: 'verbs from user space (ib_uverbs)', need: 'scenario' },
  { option: 'PVH', why: 'QEMU boots the uncompressed vmlinux (about half the boot time under TCG)', need: 'scenario' },
];

/** The options for this profile (its filesystem, device-dax when it has one). */
export function labOptions(profile: Pick<Profile, 'fs' | 'nvdimms'>): LabOption[] {
  const devdax = profile.nvdimms.some((n) => n.mode === 'devdax');
  return LAB_OPTIONS.filter((o) => !o.when || (o.when === 'devdax' ? devdax : o.when === profile.fs.type));
}

/** The options the lab cannot run this profile without, with the reason for each. */
export function requiredOptions(profile: Pick<Profile, 'fs' | 'nvdimms'>): Array<{ option: string; why: string }> {
  return labOptions(profile)
    .filter((o) => o.need === 'required')
    .map(({ option, why }) => ({ option, why }));
}

/** What a config lacks of these options; =m counts when the kernel comes with its modules. */
export function missingFromConfig(config: Map<string, string>, options: Array<{ option: string; why: string }>, hasModules: boolean): string[] {
  const problems: string[] = [];
  for (const { option, why } of options) {
    const value = config.get(option);
    if (value === 'y' || (value === 'm' && hasModules)) continue;
    problems.push(value === 'm' ? `CONFIG_${option}=m but the profile gives no modules tree (${why})` : `CONFIG_${option} is not set (${why})`);
  }
  return problems;
}

/**
 * Refuse a kernel that cannot run the lab; say what the scenarios will miss.
 * Returns the list of required options checked (empty when the kernel came without a config).
 */
export function checkKernel(kernel: Kernel, profile: Profile, progress?: Progress): string[] {
  if (!kernel.configFile) return [];
  const config = parseKernelConfig(fs.readFileSync(kernel.configFile, 'utf8'));
  const required = requiredOptions(profile);
  const problems = missingFromConfig(config, required, kernel.modulesDir !== null);
  if (problems.length) {
    throw new KernelError(
      `kernel ${kernel.release} (${kernel.origin}) cannot run this lab:\n  ${problems.join('\n  ')}\n` +
        `fix: enable these options (profiles/daxlab.config has them, with their dependencies) or use a Debian kernel profile (default, lts-6.12, sid).`,
    );
  }
  const scenario = labOptions(profile).filter((o) => o.need === 'scenario');
  for (const line of missingFromConfig(config, scenario, kernel.modulesDir !== null)) progress?.log('kernel', `${kernel.release}: ${line}: the scenarios that need it will say so`);
  return required.map((r) => r.option);
}

/** A profile's own kernel files, before anything reads them: a directory is not a bzImage. */
export function checkKernelFiles(profile: Profile): void {
  const k = profile.kernel;
  if (k.source !== 'path') return;
  checkInputFile(k.bzImage, `profile ${profile.name}: kernel.bzImage`);
  if (k.config) checkInputFile(k.config, `profile ${profile.name}: kernel.config`);
  if (k.modules && !(fs.existsSync(k.modules) && fs.statSync(k.modules).isDirectory())) {
    throw new KernelError(`profile ${profile.name}: kernel.modules ${k.modules} is not a directory (the lib/modules/<release> of that kernel)`);
  }
}
