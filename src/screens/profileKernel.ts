// What the Profiles screen says about a profile's kernel: where it comes from (a Debian
// package and suite, a path, a built tree) and its era, as far as the profile itself
// tells. A kernel whose version only the booted guest can say is "unknown until booted".
// Pure.
import { kernelLine } from '../lab/era.js';

/** The kernel part of a profile, loosely: sources and fields other helpers add are read if there. */
export type KernelSpec = { source: string; package?: string; suite?: string; bzImage?: string; modules?: string; dir?: string };

/** Suites whose kernel line does not move: a stable release keeps its kernel's major version. */
const SUITE_ERA: Record<string, string> = {
  bookworm: '6.1',
  'bookworm-security': '6.1',
  'bookworm-updates': '6.1',
  // bookworm-backports carries trixie's kernel line.
  'bookworm-backports': '6.12',
  trixie: '6.12',
  'trixie-security': '6.12',
  'trixie-updates': '6.12',
};


export function kernelSource(k: KernelSpec): string {
  if (k.source === 'debian') return `debian ${k.package ?? 'linux-image-amd64'} (${k.suite ?? 'bookworm'})`;
  if (k.source === 'path') return `path ${k.bzImage ?? '?'}`;
  if (k.source === 'tree') return `tree ${k.dir ?? '?'}`;
  return k.source;
}

/**
 * The era as the profile states it: a versioned package or a modules directory names its
 * release; a metapackage follows its suite, which pins the era only for a stable suite.
 * `booted` is the release of the guest running this profile, when there is one.
 */
export function kernelEra(k: KernelSpec, booted?: string): string {
  if (booted) {
    const era = kernelLine(booted);
    if (era) return `${era} (booted ${booted})`;
  }
  if (k.source === 'debian') {
    const pkg = k.package ?? 'linux-image-amd64';
    const fromPackage = /^linux-image-\d/.test(pkg) ? kernelLine(pkg.slice('linux-image-'.length)) : null;
    if (fromPackage) return fromPackage;
    const suite = k.suite ?? 'bookworm';
    return SUITE_ERA[suite] ?? `newest in ${suite}: unknown until booted`;
  }
  if (k.source === 'path' && k.modules) {
    const release = k.modules.replace(/\/+$/, '').split('/').pop() ?? '';
    const era = kernelLine(release);
    if (era) return era;
  }
  return 'unknown until booted';
}
