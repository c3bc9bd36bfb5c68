// Lab profiles: the shipped ones in profiles/*.json and the user's own, saved with conf.
// Every error names its path inside the profile, and a broken saved profile is reported,
// never dropped: the user's data stays where it was.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CannotTestError } from '../exit.js';
import { packageRoot, paths } from '../paths.js';
import { scenarioIssues } from '../lab/scenario.js';
import { checkDocument, LIMITS, parseDocument } from './limits.js';
import { formatSize, parseDuration, parseSize } from './units.js';

/** A size QEMU is given: in bounds, and a whole number of 2 MiB (QEMU reads a bare number as MiB). */
const size = (min: number, max: number) =>
  z.union([z.number().int().positive(), z.string()]).superRefine((value, ctx) => {
    let bytes: number;
    try {
      bytes = parseSize(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return;
    }
    if (!Number.isSafeInteger(bytes) || bytes < min || bytes > max) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)}: between ${formatSize(min)} and ${formatSize(max)}` });
    } else if (bytes % LIMITS.memoryAlign) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)}: a multiple of 2M (e.g. ${formatSize(Math.ceil(bytes / LIMITS.memoryAlign) * LIMITS.memoryAlign)})` });
    }
  });

const duration = (minMs: number, maxMs: number) =>
  z.union([z.number().nonnegative(), z.string()]).superRefine((value, ctx) => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return;
    }
    if (!(ms >= minMs && ms <= maxMs)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)}: between ${minMs / 1000} s and ${maxMs / 60_000} min` });
  });

export const kernelSchema = z.discriminatedUnion('source', [
  z
    .object({
      source: z.literal('debian'),
      /** A Debian binary package; a metapackage (linux-image-amd64) is followed to its versioned kernel. */
      package: z
        .string()
        .regex(/^linux-image-[a-z0-9.+~-]+$/, 'a Debian kernel package: linux-image-amd64, linux-image-cloud-amd64, linux-image-6.1.0-57-amd64, ...')
        .default('linux-image-amd64'),
      /** The Debian suite to take it from (the lab's own apt lists; the host's apt is never changed). */
      suite: z
        .string()
        .regex(/^[a-z][a-z0-9-]*$/, 'a Debian suite: bookworm, bookworm-backports, trixie, sid, ...')
        .default('bookworm'),
    })
    .strict(),
  z
    .object({
      source: z.literal('path'),
      /** A bzImage (arch/x86/boot/bzImage, /boot/vmlinuz-<release>). */
      bzImage: z.string().min(1),
      /** The lib/modules/<release> directory of that kernel (modules.dep is made if missing); omit for a kernel with everything built in. */
      modules: z.string().min(1).optional(),
      /** The kernel's .config, to check required options before booting. */
      config: z.string().min(1).optional(),
    })
    .strict(),
  z
    .object({
      source: z.literal('tree'),
      /** A built kernel tree (where make ran): its bzImage, .config and modules (installed into the lab's cache). */
      dir: z.string().min(1),
    })
    .strict(),
]);

export type KernelSpec = z.infer<typeof kernelSchema>;

/**
 * The shipped profile of each kernel era, for the suite and tools that go through them all.
 * release: what `uname -r` of that era's kernel starts with (the suites move: sid is the
 * newest kernel, 7.x as of December 2026).
 */
export const ERA_PROFILES = [
  { era: '6.1', profile: 'default', release: /^6\.1\./ },
  { era: '6.12', profile: 'lts-6.12', release: /^6\.12\./ },
  { era: '7.x', profile: 'sid', release: /^7\./ },
] as const;

export type KernelEra = (typeof ERA_PROFILES)[number]['era'];

/** The shipped profile name for an era. */
export function eraProfile(era: KernelEra): string {
  return ERA_PROFILES.find((e) => e.era === era)!.profile;
}

export const nvdimmSchema = z
  .object({
    size: size(LIMITS.nvdimmMin, LIMITS.nvdimmMax),
    mode: z.enum(['fsdax', 'devdax']).default('fsdax'),
  })
  .strict();

export const profileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" and "-"'),
    description: z.string().default(''),
    kernel: kernelSchema.default({ source: 'debian', package: 'linux-image-amd64', suite: 'bookworm' }),
    accel: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
    cpus: z.number().int().min(1).max(64).default(2),
    memory: size(LIMITS.memoryMin, LIMITS.memoryMax).default('2G'),
    nvdimms: z
      .array(nvdimmSchema)
      .min(1)
      .max(4)
      .default([{ size: '1G', mode: 'fsdax' }])
      .refine((list) => list.some((n) => n.mode === 'fsdax'), 'at least one nvdimm must be fsdax: the filesystem lives there'),
    fs: z
      .object({
        type: z.enum(['xfs', 'ext4']),
        mkfsOptions: z.array(z.string()).default([]),
        mountOptions: z.array(z.string()).default(['dax']),
      })
      .strict()
      .default({ type: 'xfs', mkfsOptions: ['-m', 'reflink=0'], mountOptions: ['dax'] }),
    sysctls: z.record(z.string().regex(/^[a-z0-9_.-]+$/), z.union([z.string(), z.number()])).default({}),
    sampling: z.object({ hz: z.number().min(1).max(100).default(10) }).strict().default({ hz: 10 }),
    bootTimeout: duration(LIMITS.bootTimeoutMinMs, LIMITS.bootTimeoutMaxMs).default('180s'),
    /**
     * Restore the guest saved after set-up instead of booting it (src/vm/warmStart.ts).
     * false: every boot is cold (DAXLAB_COLD=1 does the same for one command).
     */
    warmStart: z.boolean().default(true),
    defaultScenario: z.string().optional(),
    /** The profile's own scenarios, in the schema of src/lab/scenario.ts (errors with their path). */
    scenarios: z
      .array(z.unknown())
      .default([])
      .superRefine((list, ctx) => {
        list.forEach((data, i) => {
          for (const issue of scenarioIssues(data)) ctx.addIssue({ code: 'custom', path: [i, ...issue.path], message: issue.message });
        });
      }),
  })
  .strict();

export type Profile = z.infer<typeof profileSchema>;
export type ProfileInput = z.input<typeof profileSchema>;

export class ProfileError extends CannotTestError {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`profile ${source} is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function formatPath(issuePath: readonly PropertyKey[]): string {
  if (issuePath.length === 0) return '(top level)';
  return issuePath.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i ? '.' : ''}${String(key)}`)).join('');
}

/** Validate untrusted profile data; every problem comes back with its path. */
export function validateProfile(data: unknown, source: string): Profile {
  const doc = checkDocument(data);
  if (doc.problems.length) throw new ProfileError(source, doc.problems.map((p) => `${formatPath(p.path)}: ${p.message}`));
  const result = profileSchema.safeParse(doc.data);
  if (result.success) return result.data;
  throw new ProfileError(
    source,
    result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
  );
}

export const shippedProfilesDir = path.join(packageRoot, 'profiles');

export type ProfileEntry =
  | { origin: 'shipped' | 'saved'; name: string; location: string; profile: Profile }
  | { origin: 'shipped' | 'saved'; name: string; location: string; error: ProfileError };

function loadShipped(): ProfileEntry[] {
  return fs
    .readdirSync(shippedProfilesDir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file): ProfileEntry => {
      const location = path.join(shippedProfilesDir, file);
      const name = file.replace(/\.json$/, '');
      try {
        const data: unknown = parseDocument(fs.readFileSync(location, 'utf8'));
        return { origin: 'shipped', name, location, profile: validateProfile(data, location) };
      } catch (err) {
        const error = err instanceof ProfileError ? err : new ProfileError(location, [(err as Error).message]);
        return { origin: 'shipped', name, location, error };
      }
    });
}

type ProfileKey = 'profiles' | `profiles.${string}`;

/**
 * The user's saved profiles: <config>/profiles.json, {"profiles": {"<name>": {...}}}.
 * Reading never writes: a broken file (truncated, not JSON, the wrong shape) is reported
 * with its path and its profiles are left out, while the shipped ones go on working. It is
 * written only when the user saves or deletes a profile, and a broken one is first kept
 * beside it (profiles.json.broken-<time>), never lost.
 */
export class SavedProfileStore {
  readonly path: string;
  /** Where the last save kept a broken file it replaced. */
  keptBroken: string | null = null;

  constructor(dir: string) {
    this.path = path.join(dir, 'profiles.json');
  }

  /** The saved profiles, and why the file cannot be used (null: it can, or there is none). */
  read(): { profiles: Record<string, unknown>; problem: string | null } {
    let text: string;
    try {
      text = fs.readFileSync(this.path, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return { profiles: {}, problem: null };
      return { profiles: {}, problem: `cannot read it (${e.code ?? e.message})` };
    }
    let data: unknown;
    try {
      data = parseDocument(text);
    } catch (err) {
      return { profiles: {}, problem: `it is not valid JSON (${(err as Error).message})` };
    }
    const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (!isObject(data)) return { profiles: {}, problem: `it holds ${data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data}, not {"profiles": {...}}` };
    const profiles = data.profiles ?? {};
    if (!isObject(profiles)) return { profiles: {}, problem: 'its "profiles" is not an object of named profiles' };
    return { profiles, problem: null };
  }

  get(key: 'profiles'): Record<string, unknown> {
    void key;
    return this.read().profiles;
  }

  has(key: ProfileKey): boolean {
    const name = key.slice('profiles.'.length);
    return key.startsWith('profiles.') && Object.hasOwn(this.read().profiles, name);
  }

  set(key: ProfileKey, value: unknown): void {
    const { profiles, problem } = this.read();
    if (problem) this.keepBroken();
    const next = key === 'profiles' ? (value as Record<string, unknown>) : { ...(problem ? {} : profiles), [key.slice('profiles.'.length)]: value };
    this.write({ profiles: next });
  }

  delete(key: ProfileKey): void {
    const { profiles, problem } = this.read();
    if (problem || !key.startsWith('profiles.')) return;
    const next = { ...profiles };
    delete next[key.slice('profiles.'.length)];
    this.write({ profiles: next });
  }

  private keepBroken(): void {
    const kept = `${this.path}.broken-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      fs.copyFileSync(this.path, kept);
      this.keptBroken = kept;
    } catch {
      // Unreadable: nothing to keep.
    }
  }

  /** Written whole to a temporary file, then renamed: a crash mid-write leaves the old file. */
  private write(data: { profiles: Record<string, unknown> }): void {
    fs.mkdirSync(path.dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(data, null, '\t')}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.path);
  }
}

export function savedProfileStore(dir = paths.config): SavedProfileStore {
  return new SavedProfileStore(dir);
}

/** Why the saved profiles file cannot be used, with its path; null when it can. */
export function savedProfilesProblem(store = savedProfileStore()): string | null {
  const { problem } = store.read();
  return problem && `your saved profiles ${store.path} cannot be used: ${problem}; the shipped profiles still work (fix the file, or save a profile to start a new one: the broken file is kept beside it)`;
}

function loadSaved(store: SavedProfileStore): ProfileEntry[] {
  const { profiles, problem } = store.read();
  if (problem) return [{ origin: 'saved', name: path.basename(store.path), location: store.path, error: new ProfileError(store.path, [savedProfilesProblem(store)!]) }];
  return Object.entries(profiles).map(([name, data]): ProfileEntry => {
    const location = `${store.path}#profiles.${name}`;
    try {
      return { origin: 'saved', name, location, profile: validateProfile(data, location) };
    } catch (err) {
      return { origin: 'saved', name, location, error: err as ProfileError };
    }
  });
}

/** Shipped and saved profiles; a saved profile of the same name shadows the shipped one. */
export function listProfiles(store = savedProfileStore()): ProfileEntry[] {
  return [...loadShipped(), ...loadSaved(store)];
}

export function loadProfile(nameOrFile: string, store = savedProfileStore()): Profile {
  if (nameOrFile.endsWith('.json') || nameOrFile.includes('/')) {
    let data: unknown;
    try {
      if (!fs.statSync(nameOrFile).isFile()) throw new Error('it is not a regular file');
      data = parseDocument(fs.readFileSync(nameOrFile, 'utf8'));
    } catch (err) {
      throw new ProfileError(nameOrFile, [`cannot read it as JSON: ${(err as Error).message}`]);
    }
    return validateProfile(data, nameOrFile);
  }
  const entries = listProfiles(store).filter((entry) => entry.name === nameOrFile);
  const entry = entries.find((e) => e.origin === 'saved') ?? entries[0];
  if (!entry) {
    const known = listProfiles(store).map((e) => e.name);
    throw new ProfileError(nameOrFile, [`no such profile; known profiles: ${[...new Set(known)].join(', ')}`]);
  }
  if ('error' in entry) throw entry.error;
  return entry.profile;
}

/** Save a user's profile; invalid data is refused before anything is written. */
export function saveProfile(data: unknown, store = savedProfileStore()): Profile {
  const profile = validateProfile(data, 'the profile to save');
  store.set(`profiles.${profile.name}`, data);
  return profile;
}

export function deleteSavedProfile(name: string, store = savedProfileStore()): boolean {
  if (!store.has(`profiles.${name}`)) return false;
  store.delete(`profiles.${name}`);
  return true;
}
