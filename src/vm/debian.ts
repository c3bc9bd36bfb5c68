// Debian kernels from any suite, through apt, without touching the host's apt set-up: the
// lab keeps its own sources list, package lists and cache per suite under its cache dir
// (apt -o Dir::...), built from the Debian mirror the host's sources already use.
import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Progress } from './progress.js';

export class DebianError extends Error {}

export type AptSource = { uris: string[]; suites: string[]; components: string[]; signedBy: string | null };

/** deb822 .sources files: blank-line separated stanzas of "Field: value". */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s*#/.test(line) || !line.trim()) continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set((last = m[1]!.toLowerCase()), m[2]!.trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const list = (key: string) => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
    sources.push({ uris: list('uris'), suites: list('suites'), components: list('components'), signedBy: fields.get('signed-by') ?? null });
  }
  return sources;
}

/** One-line sources.list entries: "deb [signed-by=K arch=amd64] URI SUITE COMPONENT...". */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(m[1] ?? '')?.[1] ?? null;
    sources.push({ uris: [m[2]!], suites: [m[3]!], components: m[4]!.split(/\s+/).filter(Boolean), signedBy });
  }
  return sources;
}

export type DebianMirrors = { archive: string; security: string; keyring: string };

const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/**
 * The host's Debian mirrors: the archive (the source of a suite that is not "-security")
 * and the security archive, with the keyring the host trusts them with.
 */
export function debianMirrors(sources: AptSource[]): DebianMirrors {
  const isSecurity = (s: AptSource) => s.suites.some((suite) => /-security$|\/updates$/.test(suite));
  const archive = sources.find((s) => !isSecurity(s) && s.uris.length);
  const security = sources.find((s) => isSecurity(s) && s.uris.length);
  const trim = (uri: string) => uri.replace(/\/+$/, '');
  return {
    archive: archive ? trim(archive.uris[0]!) : 'http://deb.debian.org/debian',
    security: security ? trim(security.uris[0]!) : 'http://deb.debian.org/debian-security',
    keyring: archive?.signedBy ?? security?.signedBy ?? DEFAULT_KEYRING,
  };
}

/** Read the host's apt sources (never written). */
export function hostDebianMirrors(etcApt = '/etc/apt'): DebianMirrors {
  const sources: AptSource[] = [];
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  sources.push(...parseOneLineSources(read(path.join(etcApt, 'sources.list'))));
  let parts: string[] = [];
  try {
    parts = fs.readdirSync(path.join(etcApt, 'sources.list.d')).sort();
  } catch {
    // no sources.list.d: nothing more
  }
  for (const file of parts) {
    const text = read(path.join(etcApt, 'sources.list.d', file));
    if (file.endsWith('.sources')) sources.push(...parseDeb822Sources(text));
    else if (file.endsWith('.list')) sources.push(...parseOneLineSources(text));
  }
  // Only Debian's own archives: a third-party repository (nodejs, docker) is no kernel source.
  return debianMirrors(sources.filter((s) => s.uris.some((u) => /\/debian(-security)?\/?$/.test(u))));
}

export const SUITE_PATTERN = /^[a-z][a-z0-9-]*$/;

/** Suites that are a release with point updates and a security archive. */
export function isReleaseSuite(suite: string): boolean {
  return !/^(sid|unstable|experimental|rc-buggy)$/.test(suite) && !suite.includes('-');
}

/**
 * The lab's sources.list for one suite: the suite itself and, for a release, its -updates
 * and -security (where a stable kernel's newest build lives). Only "main": kernels are there.
 */
export function suiteSourcesList(suite: string, mirrors: DebianMirrors): string {
  const line = (uri: string, s: string) => `deb [signed-by=${mirrors.keyring}] ${uri} ${s} main`;
  const lines = [line(mirrors.archive, suite)];
  if (isReleaseSuite(suite)) lines.push(line(mirrors.archive, `${suite}-updates`), line(mirrors.security, `${suite}-security`));
  return `${lines.join('\n')}\n`;
}

/** The -o options that point apt at the lab's own configuration, lists and cache for a suite. */
export function aptOptions(root: string): string[] {
  const o = (k: string, v: string) => ['-o', `${k}=${v}`];
  return [
    ...o('Dir::Etc::SourceList', path.join(root, 'sources.list')),
    ...o('Dir::Etc::SourceParts', '/dev/null'),
    // The host's pins are about its own installs, not the lab's kernels.
    ...o('Dir::Etc::Preferences', '/dev/null'),
    ...o('Dir::Etc::PreferencesParts', '/dev/null'),
    ...o('Dir::State::Lists', path.join(root, 'lists')),
    ...o('Dir::Cache', path.join(root, 'cache')),
    // Nothing is installed as far as the lab's apt knows: candidates come from the lists only.
    ...o('Dir::State::status', '/dev/null'),
    ...o('APT::Architectures::', 'amd64'),
    ...o('APT::Architecture', 'amd64'),
    ...o('Acquire::Languages', 'none'),
  ];
}

/** One stanza of apt-cache show: its fields by lower-case name. */
export function parseStanza(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let last = '';
  for (const line of text.split('\n')) {
    if (!line.trim()) {
      if (fields.size) break;
      continue;
    }
    if (/^\s/.test(line) && last) {
      fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      continue;
    }
    const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (m) fields.set((last = m[1]!.toLowerCase()), m[2]!);
  }
  return fields;
}

/** Depends: "a (>= 1) | b, c:any" -> [["a", "b"], ["c"]] (package names only). */
export function parseDepends(value: string): string[][] {
  return value
    .split(',')
    .map((group) =>
      group
        .split('|')
        .map((alt) => alt.trim().split(/[\s(:[]/)[0]!)
        .filter(Boolean),
    )
    .filter((g) => g.length);
}

/** The packages that make up a Debian kernel: image, and from 7.x binary / modules / base. */
export const VERSIONED_KERNEL_PACKAGE = /^linux-(image|binary|modules|base)-\d[^\s]*$/;

export type DebPackage = { name: string; version: string; size: number; depends: string[][] };

export function parsePackage(text: string): DebPackage | null {
  const f = parseStanza(text);
  const name = f.get('package');
  const version = f.get('version');
  if (!name || !version) return null;
  return { name, version, size: Number(f.get('size') ?? 0), depends: parseDepends(f.get('depends') ?? '') };
}

/**
 * Follow a kernel package to every versioned package it stands for: a metapackage
 * (linux-image-amd64) to linux-image-<version>-amd64, and on 7.x that one (itself a
 * metapackage) to linux-binary-, linux-modules- and linux-base-<version>.
 */
export async function resolveKernelPackages(start: string, show: (name: string) => Promise<DebPackage | null>): Promise<DebPackage[]> {
  const found = new Map<string, DebPackage>();
  const queue = [start];
  while (queue.length) {
    const name = queue.shift()!;
    if (found.has(name)) continue;
    const pkg = await show(name);
    if (!pkg) {
      if (name === start) throw new DebianError(`no package ${start}`);
      throw new DebianError(`${start} needs ${name}, which apt cannot find`);
    }
    found.set(name, pkg);
    for (const group of pkg.depends) {
      const kernel = group.find((alt) => VERSIONED_KERNEL_PACKAGE.test(alt));
      if (kernel) queue.push(kernel);
    }
  }
  const versioned = [...found.values()].filter((p) => VERSIONED_KERNEL_PACKAGE.test(p.name));
  if (!versioned.length) throw new DebianError(`${start} is not a kernel package (it depends on no linux-image-<version> package)`);
  return versioned;
}

/** "dlstatus:1:48.8705:Retrieving file 1 of 3" -> 48.87 */
export function parseDlStatus(line: string): number | null {
  const m = /^dlstatus:[^:]*:([0-9.]+):/.exec(line);
  return m ? Number(m[1]) : null;
}

/** The lab's apt for one suite. */
export class SuiteApt {
  readonly root: string;

  constructor(
    cacheDir: string,
    readonly suite: string,
    readonly mirrors: DebianMirrors,
  ) {
    this.root = path.join(cacheDir, 'apt', suite);
  }

  private get options(): string[] {
    return aptOptions(this.root);
  }

  /** Lists younger than this are used as they are. */
  static readonly FRESH_MS = 24 * 3600 * 1000;

  private listsAge(): number | null {
    const dir = path.join(this.root, 'lists');
    let newest = 0;
    try {
      for (const f of fs.readdirSync(dir)) if (/_dists_.*Release$/.test(f)) newest = Math.max(newest, fs.statSync(path.join(dir, f)).mtimeMs);
    } catch {
      return null;
    }
    return newest ? Date.now() - newest : null;
  }

  /**
   * The package lists as files (name, size, mtime, inode): a different stamp means apt may
   * answer differently. null when there are no lists.
   */
  listsStamp(): string | null {
    const dir = path.join(this.root, 'lists');
    try {
      const files = fs
        .readdirSync(dir)
        .filter((f) => f.includes('_dists_'))
        .sort()
        .map((f) => {
          const st = fs.statSync(path.join(dir, f));
          return `${f} ${st.size} ${Math.trunc(st.mtimeMs)} ${st.ino}`;
        });
      return files.length ? crypto.createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 20) : null;
    } catch {
      return null;
    }
  }

  /** Whether the lists have the suite itself (not only its -updates / -security). */
  private hasSuiteLists(): boolean {
    try {
      return fs.readdirSync(path.join(this.root, 'lists')).some((f) => f.includes(`_dists_${this.suite}_`) && /Release$/.test(f));
    } catch {
      return false;
    }
  }

  /**
   * apt-get update when the lists are missing or older than a day (or when forced). A suite
   * the archive does not have is an error; a missing -updates/-security is dropped.
   */
  async update(progress: Progress, force = false): Promise<void> {
    const age = this.listsAge();
    if (!force && age !== null && age < SuiteApt.FRESH_MS && this.hasSuiteLists()) return;
    for (const dir of ['lists/partial', 'cache/archives/partial']) fs.mkdirSync(path.join(this.root, dir), { recursive: true });
    const listFile = path.join(this.root, 'sources.list');
    if (!fs.existsSync(listFile)) fs.writeFileSync(listFile, suiteSourcesList(this.suite, this.mirrors));
    progress.log('kernel', `apt-get update for Debian ${this.suite} (the lab's own lists, in ${this.root})`);
    const run = () => execa('apt-get', [...this.options, '-q', 'update'], { reject: false, stdin: 'ignore', all: true, env: { LC_ALL: 'C' } });
    let r = await run();
    const missingRelease = (out: string) => [...out.matchAll(/repository '(\S+) (\S+) Release' does not have a Release file/g)].map((m) => m[2]!);
    let absent = missingRelease(r.all ?? '');
    if (absent.includes(this.suite)) {
      fs.rmSync(this.root, { recursive: true, force: true });
      throw new DebianError(`Debian has no suite "${this.suite}" at ${this.mirrors.archive} (apt-get update: no Release file). Known suites include bookworm, bookworm-backports, trixie, sid.`);
    }
    if (absent.length) {
      progress.log('kernel', `${absent.join(', ')} not in the archive: left out of the lab's sources for ${this.suite}`);
      const kept = fs
        .readFileSync(listFile, 'utf8')
        .split('\n')
        .filter((l) => !absent.some((s) => l.split(/\s+/).includes(s)));
      fs.writeFileSync(listFile, kept.join('\n'));
      r = await run();
      absent = missingRelease(r.all ?? '');
    }
    if (!this.hasSuiteLists()) {
      const why = (r.all ?? '').split('\n').filter((l) => /^(E|W|Err):/.test(l.trim())).slice(-4).join('\n  ');
      throw new DebianError(`apt-get update for Debian ${this.suite} failed (offline?):\n  ${why || `exit ${r.exitCode}`}`);
    }
    if (r.exitCode !== 0) progress.log('kernel', `apt-get update for ${this.suite} had errors; using the lists it has`);
  }

  async show(name: string): Promise<DebPackage | null> {
    const r = await execa('apt-cache', [...this.options, 'show', '--no-all-versions', name], { reject: false, env: { LC_ALL: 'C' } });
    return r.exitCode === 0 ? parsePackage(r.stdout) : null;
  }

  /** The candidate of each package the lists have (one apt-cache call). */
  async showMany(names: string[]): Promise<Map<string, DebPackage>> {
    const found = new Map<string, DebPackage>();
    if (!names.length) return found;
    const r = await execa('apt-cache', [...this.options, 'show', '--no-all-versions', ...names], { reject: false, env: { LC_ALL: 'C' } });
    for (const stanza of r.stdout.split(/\n\s*\n/)) {
      const pkg = parsePackage(stanza);
      if (pkg && !found.has(pkg.name)) found.set(pkg.name, pkg);
    }
    return found;
  }

  /** Kernel image packages this suite has, for the "did you mean" of an unknown package. */
  async kernelImages(): Promise<string[]> {
    const r = await execa('apt-cache', [...this.options, 'pkgnames', 'linux-image-'], { reject: false });
    return r.stdout
      .split('\n')
      .filter((n) => n && !/-dbg$|-unsigned$/.test(n))
      .sort();
  }

  /** apt-get download into dir, with progress from apt's status fd. */
  async download(packages: DebPackage[], dir: string, progress: Progress): Promise<void> {
    const total = packages.reduce((sum, p) => sum + p.size, 0);
    progress.log('kernel', `downloading ${packages.map((p) => `${p.name} ${p.version}`).join(', ')} (${Math.round(total / 1e6)} MB)`);
    const child = execa('apt-get', [...this.options, '-q', '-o', 'APT::Status-Fd=3', 'download', ...packages.map((p) => `${p.name}=${p.version}`)], {
      cwd: dir,
      reject: false,
      all: true,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { LC_ALL: 'C' },
    });
    let shown = -10;
    let buffered = '';
    child.stdio[3]?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const pct = parseDlStatus(line);
        if (pct !== null && pct - shown >= 10) {
          shown = Math.floor(pct / 10) * 10;
          progress.log('kernel', `download ${shown}% of ${Math.round(total / 1e6)} MB`);
        }
      }
    });
    const r = await child;
    const missing = packages.filter((p) => !fs.readdirSync(dir).some((f) => f.startsWith(`${p.name}_`) && f.endsWith('.deb')));
    if (missing.length) {
      const why = (r.all ?? '').split('\n').filter((l) => /^(E|Err):/.test(l.trim())).join('\n  ');
      throw new DebianError(`apt-get download of ${missing.map((p) => p.name).join(', ')} failed:\n  ${why || `exit ${r.exitCode}`}`);
    }
  }
}
