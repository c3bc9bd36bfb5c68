// The profile's NVDIMMs, namespaced and formatted once, kept in the cache and booted by
// every later run instead of ndctl create-namespace + mkfs in the guest.
//
// QEMU's NVDIMMs here have no label area (no label-size): each region is one label-less
// namespace, and what it is — fsdax with its memmap in RAM, devdax — is the info block
// ndctl writes at the start of the namespace, inside the backing file. The kernel reads
// that block when nd_pmem probes the namespace and sets up the pfn / dax device by itself;
// the filesystem mkfs wrote lies behind it. So the backing files are the whole state: a
// run maps them private (QEMU share=off), and what the guest writes never reaches them.
//
// The key is everything that shapes those bytes: the NVDIMM sizes and modes in slot order,
// the guest's memory (it places the NVDIMMs in the physical address space, which the info
// block's padding is computed against), QEMU's version and machine, the kernel, the
// filesystem and its mkfs options, and the tools (by their stamps: path, size, mtime, inode).
import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Profile } from '../config/profiles.js';
import { parseSize } from '../config/units.js';
import { paths } from '../paths.js';
import { GUEST_TOOLS, statStamp } from './image.js';

/** Bump when the agent's way of making namespaces (ndctl create-namespace -m <mode> -M mem) or the file layout changes. */
export const TEMPLATE_FORMAT = 1;

export type TemplateInputs = {
  format: number;
  labels: 'none';
  namespace: string;
  qemu: string;
  machine: string;
  memory: number;
  nvdimms: Array<{ size: number; mode: string }>;
  kernel: string;
  fs: { type: string; mkfs: string[] };
  tools: string[];
};

export function templateInputs(
  profile: Pick<Profile, 'memory' | 'nvdimms' | 'fs'>,
  kernelRelease: string,
  qemuVersion: string,
  stamp: (file: string) => string = statStamp,
): TemplateInputs {
  return {
    format: TEMPLATE_FORMAT,
    labels: 'none',
    namespace: 'ndctl create-namespace -f -e <seed> -m <mode> -M mem',
    qemu: qemuVersion,
    machine: 'pc,nvdimm=on',
    memory: parseSize(profile.memory),
    nvdimms: profile.nvdimms.map((n) => ({ size: parseSize(n.size), mode: n.mode })),
    kernel: kernelRelease,
    fs: { type: profile.fs.type, mkfs: [...profile.fs.mkfsOptions] },
    tools: [...GUEST_TOOLS.map((t) => t.host), '/etc/mke2fs.conf'].map(stamp),
  };
}

export function templateKey(inputs: TemplateInputs): string {
  return crypto.createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 20);
}

export type NvdimmTemplate = { key: string; dir: string; files: string[] };

function templateAt(key: string, count: number): NvdimmTemplate {
  const dir = path.join(paths.cache, 'nvdimm', `${key}`);
  return { key, dir, files: Array.from({ length: count }, (_, i) => path.join(dir, `nvdimm${i}.img`)) };
}

/** The finished template for these inputs, or null (a template directory appears whole, by rename). */
export function findTemplate(inputs: TemplateInputs): NvdimmTemplate | null {
  const t = templateAt(templateKey(inputs), inputs.nvdimms.length);
  if (!fs.existsSync(path.join(t.dir, 'template.json'))) return null;
  for (const [i, file] of t.files.entries()) {
    try {
      if (fs.statSync(file).size !== inputs.nvdimms[i]!.size) return null;
    } catch {
      return null;
    }
  }
  return t;
}

/**
 * Copy the run's freshly set-up backing files into the template (sparse: only what ndctl
 * and mkfs wrote takes space; a reflink where the filesystem has them). The guest is
 * idle between mkfs and mount while this runs, and QEMU maps the files shared: the copy
 * reads what the guest wrote.
 */
export async function saveTemplate(inputs: TemplateInputs, runFiles: string[]): Promise<NvdimmTemplate> {
  const t = templateAt(templateKey(inputs), inputs.nvdimms.length);
  const tmp = `${t.dir}.tmp-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    for (const [i, src] of runFiles.entries()) {
      const r = await execa('cp', ['--sparse=always', '--reflink=auto', src, path.join(tmp, path.basename(t.files[i]!))], { reject: false });
      if (r.exitCode !== 0) throw new Error(`cp ${src}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    }
    fs.writeFileSync(path.join(tmp, 'template.json'), `${JSON.stringify({ inputs, made: new Date().toISOString() }, null, 1)}\n`);
    try {
      fs.renameSync(tmp, t.dir);
    } catch (err) {
      // Another boot made it first: keep theirs.
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return t;
}

/** A template the guest could not use: gone, so that the next boot makes it again. */
export function dropTemplate(t: NvdimmTemplate): void {
  fs.rmSync(t.dir, { recursive: true, force: true });
}

/** Bytes a template's files really take on disk (they are sparse). */
export function templateDiskBytes(t: NvdimmTemplate): number {
  return t.files.reduce((sum, f) => sum + fs.statSync(f).blocks * 512, 0);
}
