// The guest's modules, taken from the kernel itself: its modules.dep (hard dependencies),
// modules.softdep (what must be loaded first although no symbol says so), modules.alias
// (softdeps and request_module() name aliases such as "crypto-crc32c") and modules.builtin.
// Resolved here on the host because busybox modprobe in the guest ignores softdeps: the
// guest loads the resolved order one module at a time.
import fs from 'node:fs';
import path from 'node:path';

/** Module names compare with "-" and "_" alike, as kmod does. */
export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** kernel/fs/xfs/xfs.ko.xz -> xfs */
export function moduleNameOf(file: string): string {
  return normalizeModuleName(path.basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, ''));
}

export type ModuleInfo = { file: string; deps: string[] };

/** modules.dep: "kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko" (paths relative to the module dir). */
export function parseModulesDep(text: string): Map<string, ModuleInfo> {
  const modules = new Map<string, ModuleInfo>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const file = line.slice(0, colon).trim();
    const deps = line
      .slice(colon + 1)
      .split(/\s+/)
      .filter(Boolean)
      .map(moduleNameOf);
    modules.set(moduleNameOf(file), { file, deps });
  }
  return modules;
}

export type SoftDep = { pre: string[]; post: string[] };

/**
 * modules.softdep (and modprobe.d syntax): "softdep libcrc32c pre: crc32c" and
 * "softdep cifs gcm" (names before any "pre:" count as pre, as in kmod).
 */
export function parseSoftdeps(text: string): Map<string, SoftDep> {
  const softdeps = new Map<string, SoftDep>();
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'softdep' || !words[1]) continue;
    const name = normalizeModuleName(words[1]);
    const entry = softdeps.get(name) ?? { pre: [], post: [] };
    let list = entry.pre;
    for (const word of words.slice(2)) {
      if (word === 'pre:') list = entry.pre;
      else if (word === 'post:') list = entry.post;
      else list.push(word);
    }
    softdeps.set(name, entry);
  }
  return softdeps;
}

/** A normalized alias pattern; the regular expression is made on first use (there are ~30,000). */
export type ModuleAlias = { alias: string; module: string; prefix: string; pattern?: RegExp };

export function aliasMatches(a: ModuleAlias, name: string): boolean {
  if (a.prefix.length === a.alias.length) return a.alias === name;
  if (!name.startsWith(a.prefix)) return false;
  a.pattern ??= aliasPattern(a.alias);
  return a.pattern.test(name);
}

/** A modules.alias pattern (fnmatch: * ? [...]) as a regular expression over normalized names. */
function aliasPattern(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** modules.alias: "alias crypto-crc32c crc32c_generic" (patterns may use wildcards). */
export function parseAliases(text: string): ModuleAlias[] {
  const aliases: ModuleAlias[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'alias' || !words[1] || !words[2]) continue;
    const alias = normalizeModuleName(words[1]);
    const wildcard = alias.search(/[*?[]/);
    aliases.push({ alias, module: normalizeModuleName(words[2]), prefix: wildcard < 0 ? alias : alias.slice(0, wildcard) });
  }
  return aliases;
}

/** modules.builtin: one path per line ("kernel/drivers/nvdimm/libnvdimm.ko"). */
export function parseBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').filter((l) => l.trim()).map(moduleNameOf));
}

/** modules.builtin.modinfo: NUL-separated "module.key=value"; the aliases of built-in code. */
export function parseBuiltinAliases(text: string): Map<string, string> {
  const aliases = new Map<string, string>();
  for (const entry of text.split('\0')) {
    const m = /^([^.]+)\.alias=(.+)$/.exec(entry);
    if (m) aliases.set(normalizeModuleName(m[2]!), normalizeModuleName(m[1]!));
  }
  return aliases;
}

export type ModuleIndex = {
  modules: Map<string, ModuleInfo>;
  softdeps: Map<string, SoftDep>;
  aliases: ModuleAlias[];
  builtin: Set<string>;
  builtinAliases: Map<string, string>;
};

export function emptyModuleIndex(): ModuleIndex {
  return { modules: new Map(), softdeps: new Map(), aliases: [], builtin: new Set(), builtinAliases: new Map() };
}

/** Read the index files of lib/modules/<release> (modules.dep must be there: run depmod first). */
export function readModuleIndex(modulesDir: string): ModuleIndex {
  const read = (name: string) => {
    try {
      return fs.readFileSync(path.join(modulesDir, name), 'utf8');
    } catch {
      return '';
    }
  };
  return {
    modules: parseModulesDep(read('modules.dep')),
    softdeps: parseSoftdeps(read('modules.softdep')),
    aliases: parseAliases(read('modules.alias')),
    builtin: parseBuiltin(read('modules.builtin')),
    builtinAliases: parseBuiltinAliases(read('modules.builtin.modinfo')),
  };
}

/**
 * One module to load, in order. soft: reached through a softdep; the guest may go on when it
 * fails. after: the modules of the order that must be loaded before it (its modules.dep
 * dependencies, its softdep "pre" modules, and the modules whose softdep "post" names it):
 * the guest loads a module as soon as these are, several at once.
 */
export type LoadStep = { name: string; file: string; soft: boolean; after: string[] };

export type Wanted = { name: string; optional?: boolean };

export type Resolution = {
  /** Modules to load, each after everything it needs. */
  order: LoadStep[];
  /** Wanted names the kernel has built in: nothing to load. */
  builtin: string[];
  /** Wanted names the kernel has neither as a module nor built in. */
  missing: string[];
  /** Of those, the ones that were not optional. */
  missingRequired: string[];
};

/**
 * The load order for the wanted modules (module names or aliases): every module after its
 * hard dependencies and its softdep "pre" modules, its "post" modules after it. A name the
 * kernel has built in is skipped; one it lacks is reported, not thrown.
 */
export function resolveLoadOrder(index: ModuleIndex, wanted: Array<string | Wanted>): Resolution {
  const order: LoadStep[] = [];
  const placed = new Map<string, LoadStep>();
  const visiting = new Set<string>();
  const builtin: string[] = [];
  const missing: string[] = [];
  const missingRequired: string[] = [];

  /** Returns the modules it placed for this name (none: built in, missing or a cycle). */
  const visitModule = (name: string, soft: boolean): string[] => {
    const done = placed.get(name);
    if (done) {
      // Needed for real somewhere else: its failure is no longer acceptable.
      if (!soft) done.soft = false;
      return [name];
    }
    if (visiting.has(name)) return []; // a softdep cycle: the first visit places it
    visiting.add(name);
    const info = index.modules.get(name)!;
    const softdep = index.softdeps.get(name);
    const after = new Set<string>();
    for (const pre of softdep?.pre ?? []) for (const m of visitName(pre, true).placed) after.add(m);
    // modules.dep lists the deepest dependency last (kmod loads from the end).
    for (const dep of [...info.deps].reverse()) if (index.modules.has(dep)) for (const m of visitModule(dep, soft)) after.add(m);
    after.delete(name);
    const step: LoadStep = { name, file: info.file, soft, after: [...after] };
    placed.set(name, step);
    order.push(step);
    visiting.delete(name);
    for (const post of softdep?.post ?? []) {
      for (const m of visitName(post, true).placed) {
        const later = placed.get(m)!;
        if (m !== name && !later.after.includes(name) && order.indexOf(later) > order.indexOf(step)) later.after.push(name);
      }
    }
    return [name];
  };

  /** Returns how the name resolved, and the modules it placed. */
  const visitName = (raw: string, soft: boolean): { how: 'module' | 'builtin' | 'missing'; placed: string[] } => {
    const name = normalizeModuleName(raw);
    if (index.modules.has(name)) return { how: 'module', placed: visitModule(name, soft) };
    if (index.builtin.has(name)) return { how: 'builtin', placed: [] };
    // An alias: every module that provides it, as modprobe does.
    const providers = [...new Set(index.aliases.filter((a) => aliasMatches(a, name)).map((a) => a.module))].filter((m) => index.modules.has(m));
    if (providers.length) return { how: 'module', placed: providers.flatMap((m) => visitModule(m, soft)) };
    if (index.builtinAliases.has(name)) return { how: 'builtin', placed: [] };
    return { how: 'missing', placed: [] };
  };

  for (const w of wanted) {
    const { name, optional } = typeof w === 'string' ? { name: w, optional: false } : w;
    const { how } = visitName(name, false);
    if (how === 'builtin') builtin.push(name);
    if (how === 'missing') {
      missing.push(name);
      if (!optional) missingRequired.push(name);
    }
  }
  return { order, builtin, missing, missingRequired };
}

/** The guest-side form of a load order: module names, soft ones marked "?" (a failure is not fatal). */
export function loadOrderLines(order: LoadStep[]): string[] {
  return order.map((s) => (s.soft ? `?${s.name}` : s.name));
}
