// The profile form: a profile as editable text fields and back, and validation errors
// mapped to the field they belong to (by their path). Pure.
import type { Profile } from '../config/profiles.js';

export type FieldKey =
  | 'name'
  | 'description'
  | 'kernel'
  | 'accel'
  | 'cpus'
  | 'memory'
  | 'nvdimms'
  | 'fsType'
  | 'mkfs'
  | 'mount'
  | 'sysctls'
  | 'hz'
  | 'bootTimeout'
  | 'defaultScenario';

export type Field = { key: FieldKey; label: string; hint: string; choices?: string[]; path: string };

export const FIELDS: Field[] = [
  { key: 'name', label: 'name', hint: 'lower-case letters, digits, . _ -', path: 'name' },
  { key: 'description', label: 'description', hint: 'free text', path: 'description' },
  { key: 'kernel', label: 'kernel', hint: '"debian linux-image-amd64 [suite]" or "path /boot/vmlinuz modules=/lib/modules/R config=/boot/config-R"', path: 'kernel' },
  { key: 'accel', label: 'accel', hint: 'space cycles', choices: ['auto', 'kvm', 'tcg'], path: 'accel' },
  { key: 'cpus', label: 'cpus', hint: '1-64', path: 'cpus' },
  { key: 'memory', label: 'memory', hint: 'e.g. 2G', path: 'memory' },
  { key: 'nvdimms', label: 'nvdimms', hint: 'size and mode, comma separated: "1G fsdax, 256M devdax"', path: 'nvdimms' },
  { key: 'fsType', label: 'filesystem', hint: 'space cycles', choices: ['xfs', 'ext4'], path: 'fs.type' },
  { key: 'mkfs', label: 'mkfs options', hint: 'space separated, e.g. -m reflink=0', path: 'fs.mkfsOptions' },
  { key: 'mount', label: 'mount options', hint: 'comma separated, e.g. dax', path: 'fs.mountOptions' },
  { key: 'sysctls', label: 'sysctls', hint: 'k=v, comma separated: fs.lease-break-time=5', path: 'sysctls' },
  { key: 'hz', label: 'sample rate (Hz)', hint: '1-100', path: 'sampling' },
  { key: 'bootTimeout', label: 'boot timeout', hint: 'e.g. 180s', path: 'bootTimeout' },
  { key: 'defaultScenario', label: 'default scenario', hint: 'a scenario id, or empty', path: 'defaultScenario' },
];

export type Form = Record<FieldKey, string>;

function kernelText(k: Profile['kernel']): string {
  // A suite (bookworm-backports, sid, ...) is kept: the form must not drop what it does not show.
  if (k.source === 'debian') return `debian ${k.package}${k.suite ? ` ${k.suite}` : ''}`;
  if (k.source === 'tree') return `tree ${k.dir}`;
  return ['path', k.bzImage, ...(k.modules ? [`modules=${k.modules}`] : []), ...(k.config ? [`config=${k.config}`] : [])].join(' ');
}

/** The form for a profile (valid or the raw data of a broken one: whatever can be shown). */
export function formFromProfile(p: Partial<Profile> & Record<string, unknown>): Form {
  const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  const fs = (p.fs ?? {}) as Partial<Profile['fs']>;
  return {
    name: str(p.name),
    description: str(p.description),
    kernel: p.kernel && typeof p.kernel === 'object' && 'source' in p.kernel ? kernelText(p.kernel as Profile['kernel']) : 'debian linux-image-amd64',
    accel: str(p.accel ?? 'auto'),
    cpus: str(p.cpus ?? 2),
    memory: str(p.memory ?? '2G'),
    nvdimms: Array.isArray(p.nvdimms) ? p.nvdimms.map((n) => `${str(n?.size)} ${str(n?.mode ?? 'fsdax')}`).join(', ') : '1G fsdax',
    fsType: str(fs.type ?? 'xfs'),
    mkfs: Array.isArray(fs.mkfsOptions) ? fs.mkfsOptions.join(' ') : '',
    mount: Array.isArray(fs.mountOptions) ? fs.mountOptions.join(',') : 'dax',
    sysctls: p.sysctls && typeof p.sysctls === 'object' ? Object.entries(p.sysctls).map(([k, v]) => `${k}=${v}`).join(', ') : '',
    hz: str((p.sampling as { hz?: number } | undefined)?.hz ?? 10),
    bootTimeout: str(p.bootTimeout ?? '180s'),
    defaultScenario: str(p.defaultScenario),
  };
}

const num = (s: string): number | string => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : s.trim());
const list = (s: string, sep: RegExp) =>
  s
    .split(sep)
    .map((x) => x.trim())
    .filter(Boolean);

/** Form -> profile data for the schema to judge. `base` keeps what the form does not show (custom scenarios). */
export function profileFromForm(f: Form, base: Record<string, unknown> = {}): Record<string, unknown> {
  let kernel: unknown;
  const [source, ...rest] = list(f.kernel, /\s+/);
  if (source === 'debian') kernel = { source: 'debian', ...(rest[0] ? { package: rest[0] } : {}), ...(rest[1] ? { suite: rest[1] } : {}) };
  else if (source === 'path') {
    const k: Record<string, string> = { source: 'path' };
    for (const r of rest) {
      const m = /^(modules|config)=(.*)$/.exec(r);
      if (m) k[m[1]!] = m[2]!;
      else k.bzImage = r;
    }
    kernel = k;
  } else if (source === 'tree') kernel = { source: 'tree', ...(rest[0] ? { dir: rest[0] } : {}) };
  else kernel = { source: source ?? '' };
  const sysctls: Record<string, string | number> = {};
  for (const kv of list(f.sysctls, /,/)) {
    const i = kv.indexOf('=');
    if (i < 0) sysctls[kv] = '';
    else sysctls[kv.slice(0, i).trim()] = num(kv.slice(i + 1));
  }
  const data: Record<string, unknown> = {
    ...base,
    name: f.name.trim(),
    description: f.description,
    kernel,
    accel: f.accel,
    cpus: num(f.cpus),
    memory: num(f.memory),
    nvdimms: list(f.nvdimms, /,/).map((n) => {
      const [size, mode] = list(n, /\s+/);
      return { size: num(size ?? ''), ...(mode ? { mode } : {}) };
    }),
    fs: { type: f.fsType, mkfsOptions: list(f.mkfs, /\s+/), mountOptions: list(f.mount, /,/) },
    sysctls,
    sampling: { hz: num(f.hz) },
    bootTimeout: num(f.bootTimeout),
  };
  if (f.defaultScenario.trim()) data.defaultScenario = f.defaultScenario.trim();
  else delete data.defaultScenario;
  return data;
}

/** "nvdimms[0].mode: Invalid option..." -> the field it belongs to; unmatched ones go to the form as a whole. */
export function errorsByField(problems: readonly string[]): { byField: Partial<Record<FieldKey, string[]>>; general: string[] } {
  const byField: Partial<Record<FieldKey, string[]>> = {};
  const general: string[] = [];
  for (const p of problems) {
    const path = p.slice(0, p.indexOf(':'));
    const field = FIELDS.find((f) => path === f.path || path.startsWith(`${f.path}.`) || path.startsWith(`${f.path}[`));
    if (field) (byField[field.key] ??= []).push(p);
    else general.push(p);
  }
  return { byField, general };
}
