// Lab profiles: the shipped ones in profiles/*.json and the user's own, saved with conf.
// Every error names its path inside the profile, and a broken saved profile is reported,
// never dropped: the user's data stays where it was.
import Conf from 'conf';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { packageRoot, paths } from '../paths.js';
import { scenarioIssues } from '../lab/scenario.js';
import { parseDuration, parseSize } from './units.js';

const size = z.union([z.number().int().positive(), z.string()]).superRefine((value, ctx) => {
  try {
    parseSize(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const duration = z.union([z.number().nonnegative(), z.string()]).superRefine((value, ctx) => {
  try {
    parseDuration(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
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

export const nvdimmSchema = z
  .object({
    size,
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
    memory: size.default('2G'),
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
    sampling: z.object({ hz: z.number().min(1).max(50).default(10) }).strict().default({ hz: 10 }),
    bootTimeout: duration.default('180s'),
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

export class ProfileError extends Error {
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
  const result = profileSchema.safeParse(data);
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
        const data: unknown = JSON.parse(fs.readFileSync(location, 'utf8'));
        return { origin: 'shipped', name, location, profile: validateProfile(data, location) };
      } catch (err) {
        const error = err instanceof ProfileError ? err : new ProfileError(location, [(err as Error).message]);
        return { origin: 'shipped', name, location, error };
      }
    });
}

type SavedStore = { profiles: Record<string, unknown> };

export function savedProfileStore(cwd = paths.config): Conf<SavedStore> {
  return new Conf<SavedStore>({
    projectName: 'daxlab',
    projectSuffix: '',
    cwd,
    configName: 'profiles',
    defaults: { profiles: {} },
  });
}

function loadSaved(store: Conf<SavedStore>): ProfileEntry[] {
  return Object.entries(store.get('profiles')).map(([name, data]): ProfileEntry => {
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
      data = JSON.parse(fs.readFileSync(nameOrFile, 'utf8'));
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
  store.delete(`profiles.${name}` as 'profiles');
  return true;
}
