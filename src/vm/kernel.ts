// The guest kernel: Debian's linux-image package fetched with apt-get download and unpacked
// into the cache (nothing installed on the host), or a bzImage + modules tree named by a profile.
// A kernel that lacks what the lab needs is refused before boot, naming the missing options.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { paths } from '../paths.js';
import type { Profile } from '../config/profiles.js';
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

export class KernelError extends Error {}

/** Read the version string a bzImage carries in its setup header (Documentation/x86/boot.rst). */
export function bzImageRelease(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(0x4000);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n < 0x210 || head.toString('latin1', 0x202, 0x206) !== 'HdrS') {
      throw new KernelError(`${file} is not a bzImage (no "HdrS" boot header): point kernel.bzImage at arch/x86/boot/bzImage`);
    }
    const versionOffset = head.readUInt16LE(0x20e) + 0x200;
    const text = head.toString('latin1', versionOffset, Math.min(n, versionOffset + 256));
    return text.split(/[\s\0]/)[0]!;
  } finally {
    fs.closeSync(fd);
  }
}

async function aptQuery(args: string[]): Promise<string> {
  const { stdout } = await execa('apt-cache', args, { reject: false });
  return stdout;
}

/** linux-image-amd64 is a metapackage: follow it to the versioned image package. */
async function resolveImagePackage(pkg: string, progress: Progress): Promise<string | null> {
  if (/^linux-image-\d/.test(pkg)) return pkg;
  let deps = await aptQuery(['depends', pkg]);
  if (!/Depends: linux-image-\d/.test(deps) && process.getuid?.() === 0) {
    progress.log('kernel', 'apt lists look empty: running apt-get update');
    await execa('apt-get', ['update', '-q'], { reject: false, stdin: 'ignore' });
    deps = await aptQuery(['depends', pkg]);
  }
  const m = /Depends: (linux-image-\d[^\s]*)/.exec(deps);
  return m ? m[1]! : null;
}

function unpackedKernel(dir: string, pkg: string): Kernel | null {
  if (!fs.existsSync(path.join(dir, '.complete'))) return null;
  const modulesRoot = path.join(dir, 'root/lib/modules');
  const release = fs.readdirSync(modulesRoot)[0];
  if (!release) return null;
  const version = fs.readFileSync(path.join(dir, '.complete'), 'utf8').trim();
  return {
    release,
    bzImage: path.join(dir, `root/boot/vmlinuz-${release}`),
    modulesDir: path.join(modulesRoot, release),
    configFile: path.join(dir, `root/boot/config-${release}`),
    origin: `Debian ${pkg} ${version}`,
  };
}

async function debianKernel(pkgSpec: string, progress: Progress): Promise<Kernel> {
  const store = path.join(paths.cache, 'kernels');
  fs.mkdirSync(store, { recursive: true });
  const pkg = await resolveImagePackage(pkgSpec, progress);
  if (!pkg) {
    // Offline: fall back to the newest kernel already unpacked for this spec.
    const cached = fs
      .readdirSync(store)
      .filter((d) => d.startsWith('linux-image-'))
      .sort()
      .reverse()
      .map((d) => unpackedKernel(path.join(store, d), d))
      .find(Boolean);
    if (cached) return cached;
    throw new KernelError(
      `apt cannot resolve ${pkgSpec} to a kernel package. Run "apt-get update" (as root), or name a versioned package such as linux-image-6.1.0-56-amd64 in the profile.`,
    );
  }
  const dir = path.join(store, pkg);
  const ready = unpackedKernel(dir, pkg);
  if (ready) return ready;

  progress.start('kernel', `fetching ${pkg} with apt-get download`);
  const began = performance.now();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const dl = await execa('apt-get', ['download', pkg], { cwd: dir, reject: false, stdin: 'ignore', all: true });
  const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (!deb) throw new KernelError(`apt-get download ${pkg} failed:\n${dl.all}`);
  progress.log('kernel', `unpacking ${deb}`);
  await execa('dpkg-deb', ['-x', path.join(dir, deb), path.join(dir, 'root')]);
  const release = fs.readdirSync(path.join(dir, 'root/lib/modules'))[0]!;
  // Debian ships no modules.dep in the package: postinst runs depmod. Run it on our copy.
  await execa('depmod', ['-b', path.join(dir, 'root'), release]);
  fs.rmSync(path.join(dir, deb));
  const version = deb.split('_')[1] ?? 'unknown';
  fs.writeFileSync(path.join(dir, '.complete'), `${decodeURIComponent(version)}\n`);
  progress.done('kernel', Math.round(performance.now() - began), `${pkg} ${version}`);
  return unpackedKernel(dir, pkg)!;
}

function pathKernel(spec: Extract<Profile['kernel'], { source: 'path' }>): Kernel {
  const bzImage = path.resolve(spec.bzImage);
  if (!fs.existsSync(bzImage)) {
    throw new KernelError(`kernel.bzImage: ${bzImage} does not exist. Point it at a built arch/x86/boot/bzImage.`);
  }
  const release = bzImageRelease(bzImage);
  let modulesDir: string | null = null;
  if (spec.modules) {
    modulesDir = path.resolve(spec.modules);
    if (!fs.existsSync(path.join(modulesDir, 'modules.dep'))) {
      throw new KernelError(
        `kernel.modules: ${modulesDir} has no modules.dep. Point it at lib/modules/<release> of "make modules_install INSTALL_MOD_PATH=..." output.`,
      );
    }
    if (path.basename(modulesDir) !== release) {
      throw new KernelError(`kernel.modules: ${modulesDir} is for "${path.basename(modulesDir)}" but the bzImage is "${release}".`);
    }
  }
  const configFile = spec.config ? path.resolve(spec.config) : null;
  if (configFile && !fs.existsSync(configFile)) throw new KernelError(`kernel.config: ${configFile} does not exist.`);
  return { release, bzImage, modulesDir, configFile, origin: bzImage };
}

export async function resolveKernel(profile: Profile, progress: Progress): Promise<Kernel> {
  const kernel = profile.kernel.source === 'debian' ? await debianKernel(profile.kernel.package, progress) : pathKernel(profile.kernel);
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

/** The options the lab needs from this profile's kernel, with the reason for each. */
export function requiredOptions(profile: Profile): Array<{ option: string; why: string }> {
  const needs = [
    { option: 'BLK_DEV_INITRD', why: 'the guest boots from an initramfs' },
    { option: 'DEVTMPFS', why: 'device nodes without udev' },
    { option: 'VIRTIO_PCI', why: 'the agent channel' },
    { option: 'VIRTIO_CONSOLE', why: 'the agent channel (virtio-serial)' },
    { option: 'ACPI_NFIT', why: "QEMU's NVDIMMs are described by the ACPI NFIT" },
    { option: 'LIBNVDIMM', why: 'NVDIMM support' },
    { option: 'BLK_DEV_PMEM', why: 'the pmem block device of an fsdax namespace' },
    { option: 'ZONE_DEVICE', why: 'struct pages for pmem (fsdax mode)' },
    { option: 'FS_DAX', why: 'mount -o dax' },
    { option: 'DEBUG_INFO_BTF', why: "the agent takes every struct offset from the kernel's BTF" },
    { option: profile.fs.type === 'xfs' ? 'XFS_FS' : 'EXT4_FS', why: `the ${profile.fs.type} filesystem` },
  ];
  if (profile.nvdimms.some((n) => n.mode === 'devdax')) {
    needs.push({ option: 'DEV_DAX', why: 'device-dax namespaces' }, { option: 'DEV_DAX_PMEM', why: 'device-dax on pmem' });
  }
  return needs;
}

/**
 * Refuse a kernel that cannot run the lab. Module options need a modules tree.
 * Returns the list of checks made (empty when the kernel came without a config).
 */
export function checkKernel(kernel: Kernel, profile: Profile): string[] {
  if (!kernel.configFile) return [];
  const config = parseKernelConfig(fs.readFileSync(kernel.configFile, 'utf8'));
  const problems: string[] = [];
  for (const { option, why } of requiredOptions(profile)) {
    const value = config.get(option);
    if (value === 'y') continue;
    if (value === 'm' && kernel.modulesDir) continue;
    problems.push(
      value === 'm' ? `CONFIG_${option}=m but the profile gives no modules tree (${why})` : `CONFIG_${option} is not set (${why})`,
    );
  }
  if (problems.length) {
    throw new KernelError(
      `kernel ${kernel.release} (${kernel.origin}) cannot run this lab:\n  ${problems.join('\n  ')}\n` +
        `fix: enable these options (see profiles/daxlab.config for a fragment) or use the default Debian kernel.`,
    );
  }
  return requiredOptions(profile).map((r) => r.option);
}
