// `daxlab scenario export <id> --format c`: the scenario as one standalone C file (the
// runtime in repro/runtime.c plus its steps as C tables, generated from the scenario
// definition) and a shell script that sets up what it needs (a pmem namespace in fsdax
// mode, the filesystem mounted -o dax, a slow null_blk). The C program checks what user
// space can see; every other expectation is listed as not checked. A scenario whose
// actions or preconditions user space cannot drive is refused with the reason.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseScenarioDuration, parseSize } from '../config/units.js';
import { cWaitsForSleep, exportCOf } from './checks/index.js';
import type { Condition, Predicate, Scenario, Step } from './scenario.js';
import type { ScenarioOp } from '../wire/ops.js';

export type CExport = { ok: true; c: string; sh: string; unchecked: string[] } | { ok: false; why: string };

const RUNTIME = fileURLToPath(new URL('./repro/runtime.c', import.meta.url));

/** Ops that let go of a reference the scenario took: the moment "the page is back at idle" is their return. */
const RELEASES = new Set(['odirect', 'drain', 'io_uring_unregister', 'rdma_dereg_mr']);
const SUPPORTED = new Set(['open', 'close', 'mmap', 'munmap', 'touch', 'vmsplice', 'drain', 'odirect', 'truncate', 'ftruncate', 'fallocate', 'sleep', 'write', 'read']);

class Refuse extends Error {}

const cstr = (s: string | null | undefined): string => (s === null || s === undefined ? 'NULL' : JSON.stringify(s).replace(/\?\?/g, '?\\?'));

/** A JS regular expression as POSIX ERE (regcomp): \b dropped, \d spelled out; refuse what ERE lacks. */
export function toPosixRegex(re: string): string {
  if (/\(\?|\\[sSwWB]|\\k|\\p/.test(re)) throw new Refuse(`the regular expression /${re}/ uses syntax POSIX regcomp has not`);
  return re.replace(/\\b/g, '').replace(/\\d/g, '[0-9]');
}

const FALLOC: Record<string, string> = {
  punch: 'FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE',
  zero: 'FALLOC_FL_ZERO_RANGE',
  collapse: 'FALLOC_FL_COLLAPSE_RANGE',
  allocate: '0',
};

export function exportC(s: Scenario): CExport {
  try {
    return generate(s);
  } catch (err) {
    if (err instanceof Refuse) return { ok: false, why: err.message };
    throw err;
  }
}

function generate(s: Scenario): CExport {
  if (s.steps.some((st) => st.race)) throw new Refuse(`${s.id} is a seeded race (fsx-style rounds checked against a shadow copy): the C exporter writes step scenarios only`);
  if (s.needs.devdax === 'required') throw new Refuse(`${s.id} needs a device-dax namespace, which the exported set-up does not create`);
  if (s.needs.rdma === 'required' || s.actors.some((a) => a.program === 'verbs')) throw new Refuse(`${s.id} registers RDMA memory (soft-RoCE, libibverbs): not exported`);
  const actorIx = new Map(s.actors.map((a, i) => [a.name, i]));
  const stepIx = new Map(s.steps.map((st, i) => [st.id ?? `step-${i + 1}`, i]));
  const unchecked: string[] = [];
  let firstFile: string | null = null;

  const actor = (n: string | undefined): number => (n === undefined ? -1 : actorIx.get(n)!);
  const step = (id: string | undefined): number => (id === undefined ? -1 : stepIx.get(id)!);
  const ms = (v: string | number, what: string): number => {
    let n = NaN;
    try {
      n = parseScenarioDuration(v, {});
    } catch {
      // a guest quantity: NaN
    }
    if (!Number.isFinite(n)) throw new Refuse(`${what}: "${v}" depends on a guest quantity the exporter does not read (lease-break-time)`);
    return Math.round(n);
  };
  const cond = (c: Condition | undefined): string => {
    const fsBits = (c?.fs ?? []).reduce((b, f) => b | (f === 'xfs' ? 1 : 2), 0);
    const avail = c?.available ?? [];
    return `{ .busy = ${actor(c?.busy)}, .succeeded = ${step(c?.succeeded)}, .failed = ${step(c?.failed)}, .fs = ${fsBits}, .from = ${cstr(c?.kernel?.from)}, .before = ${cstr(c?.kernel?.before)}, .needs_nullb = ${avail.includes('nullBlk') ? 1 : 0}, .never = ${avail.some((a) => a !== 'nullBlk') ? 1 : 0} }`;
  };
  const errnos = new Set<string>();

  const checkC = (p: Predicate, i: number, k: number): string => {
    const id = p.id ?? `${s.steps[i]!.id ?? `step-${i + 1}`}.${k + 1}`;
    const says = p.says ?? `${p.check}${'actor' in p ? ` ${p.actor}` : ''}`;
    const base = `.id = ${cstr(id)}, .says = ${cstr(says)}, .when = ${cond(p.when)}`;
    const none = (why: string) => {
      unchecked.push(`${id}: ${why}`);
      return `{ .kind = CK_UNCHECKED, ${base}, .why = ${cstr(why)}, .step = -1, .actor = -1, .want_dax = -1 }`;
    };
    return exportCOf(p, {
      base,
      id,
      says,
      when: cond(p.when),
      cstr,
      actor,
      step,
      ms: (v) => ms(v, id),
      regex: toPosixRegex,
      errno: (e) => errnos.add(e),
      releasingStep: () => {
        for (let j = i; j >= 0; j--) {
          const op = s.steps[j]!.do?.op;
          if (op && RELEASES.has(op)) return j;
        }
        return -1;
      },
      stepName: (j) => s.steps[j]!.id ?? String(j + 1),
      none,
    });
  };

  const stepC = (st: Step, i: number): string => {
    const sid = st.id ?? `step-${i + 1}`;
    const op = st.do as ScenarioOp | undefined;
    if (op && !SUPPORTED.has(op.op)) throw new Refuse(`step ${sid} uses ${op.op}, which the C exporter does not write`);
    if (st.kill && !/^SIG[A-Z0-9]+$/.test(st.kill.signal)) throw new Refuse(`step ${sid}: signal "${st.kill.signal}" is not a SIG name`);
    let waitBlocked = 0;
    let waitMs = 0;
    if (st.waitFor) {
      if (!cWaitsForSleep(st.waitFor.until) || !op || !st.async) throw new Refuse(`step ${sid} waits for ${st.waitFor.until.check}: the exporter can only wait for an async action to sleep in the kernel`);
      // The reference is taken when the action starts sleeping in its call (the bio is built and submitted).
      waitBlocked = 1;
      waitMs = ms(st.waitFor.timeout, `${sid}.waitFor`);
    }
    const f: string[] = [`.id = ${cstr(sid)}`, `.say = ${cstr(st.say)}`, `.actor = ${op ? actor(st.actor) : -1}`, `.async = ${st.async ? 1 : 0}`, `.size = -1`];
    if (op) {
      f.push(`.op = OP_${op.op.toUpperCase()}`);
      switch (op.op) {
        case 'open':
          if (op.path.startsWith('$')) throw new Refuse(`step ${sid} opens ${op.path}: only files on the DAX mount are set up`);
          firstFile ??= op.path;
          f.push(`.path = ${cstr(op.path)}`, `.create = ${op.create ? 1 : 0}`, `.direct = ${op.direct ? 1 : 0}`, `.readonly = ${op.readonly ? 1 : 0}`);
          if (op.size !== undefined) f[4] = `.size = ${parseSize(op.size)}`;
          break;
        case 'mmap': {
          if (op.prot) throw new Refuse(`step ${sid} maps with prot ${op.prot.join('|')}: not exported`);
          const flags = op.flags.map((x) => (/^(MAP_[A-Z_]+|0x[0-9a-f]+|\d+)$/i.test(x) ? x : (() => { throw new Refuse(`step ${sid}: mmap flag "${x}"`); })()));
          f.push(`.length = ${parseSize(op.length)}`, `.offset = ${op.offset === undefined ? 0 : parseSize(op.offset)}`, `.mapflags = ${flags.join(' | ') || 'MAP_SHARED'}`, `.anonymous = ${op.anonymous ? 1 : 0}`);
          break;
        }
        case 'touch':
        case 'vmsplice':
        case 'odirect': {
          if (op.pages.length > 16) throw new Refuse(`step ${sid}: more than 16 pages`);
          f.push(`.pages = { ${op.pages.join(', ')} }`, `.npages = ${op.pages.length}`);
          if (op.op === 'touch') f.push(`.write = ${op.write ? 1 : 0}`);
          if (op.op === 'odirect') {
            if (op.device !== '$nullb') throw new Refuse(`step ${sid}: O_DIRECT from ${op.device}: only the null_blk device is set up`);
            f.push(`.path = "$nullb"`, `.write = ${op.write ? 1 : 0}`);
          }
          break;
        }
        case 'truncate':
          if (op.path.startsWith('$')) throw new Refuse(`step ${sid} truncates ${op.path}`);
          f.push(`.path = ${cstr(op.path)}`);
          f[4] = `.size = ${parseSize(op.size)}`;
          break;
        case 'ftruncate':
          f[4] = `.size = ${parseSize(op.size)}`;
          break;
        case 'fallocate':
          f.push(`.mode = ${FALLOC[op.mode]}`, `.offset = ${parseSize(op.offset)}`, `.length = ${parseSize(op.length)}`);
          break;
        case 'sleep':
          f.push(`.length = ${ms(op.for, sid)}`);
          break;
        case 'write':
          f.push(`.offset = ${parseSize(op.offset)}`, `.length = ${parseSize(op.length)}`, `.byte = ${op.byte ?? 0x5a}`);
          break;
        case 'read':
          f.push(`.offset = ${parseSize(op.offset)}`, `.length = ${parseSize(op.length)}`);
          break;
        default:
          break;
      }
    }
    f.push(`.when = ${cond(st.when)}`, `.kill_actor = ${st.kill ? actor(st.kill.actor) : -1}`, `.kill_signal = ${st.kill ? st.kill.signal : 0}`);
    f.push(`.wait_blocked = ${waitBlocked}`, `.wait_ms = ${waitMs}`);
    const checks = st.expect ?? [];
    f.push(`.checks = ${checks.length ? `checks_${i}` : 'NULL'}`, `.nchecks = ${checks.length}`);
    return `\t{ ${f.join(', ')} },`;
  };

  const checkTables = s.steps
    .map((st, i) => ((st.expect ?? []).length ? `static const struct check checks_${i}[] = {\n${(st.expect ?? []).map((p, k) => `\t${checkC(p, i, k)},`).join('\n')}\n};` : ''))
    .filter(Boolean)
    .join('\n');
  const stepRows = s.steps.map(stepC).join('\n');
  const gen = [
    `/* Generated from the scenario definition: ${s.actors.length} actor(s), ${s.steps.length} step(s). */`,
    `#define SCENARIO_ID ${cstr(s.id)}`,
    `#define NACTORS ${s.actors.length}`,
    `#define NSTEPS ${s.steps.length}`,
    `#define NEEDS_NULLB ${s.needs.nullBlk ? 1 : 0}`,
    `#define FIRST_FILE ${cstr(firstFile)}`,
    `static const char *const actor_names[NACTORS] = { ${s.actors.map((a) => cstr(a.name)).join(', ')} };`,
    `static const struct { const char *name; int value; } errnames[] = {`,
    ...[...errnos].map((e) => `\t{ ${cstr(e)}, ${e} },`),
    `\t{ NULL, 0 },`,
    `};`,
    checkTables,
    `static const struct step steps[NSTEPS] = {`,
    stepRows,
    `};`,
  ].join('\n');
  const runtime = fs.readFileSync(RUNTIME, 'utf8');
  const c = runtime.replace('@TITLE@', `${s.id}: ${s.title}`.replace(/\*\//g, '* /')).replace(/@ID@/g, s.id).replace('/* @STEPS@ */', gen);
  return { ok: true, c, sh: shellScript(s), unchecked };
}

function shellScript(s: Scenario): string {
  const fsList = s.needs.fs ?? ['xfs', 'ext4'];
  const nullb = s.needs.nullBlk ? Math.round(parseScenarioDuration(s.needs.nullBlk.completion, {}) * 1e6) : 0;
  const lines = [
    '#!/bin/sh',
    `# Set up what ${s.id}.c needs and run it (as root): a pmem namespace in fsdax mode,`,
    `# ${fsList[0]} on it mounted -o dax${nullb ? ', a null_blk device whose I/O completes after ' + nullb / 1e6 + ' ms' : ''}.`,
    '# The pmem comes from an NVDIMM region (QEMU: -machine nvdimm=on -device nvdimm,...) or',
    '# memmap=2G!4G on the kernel command line. Exit: 0 held, 1 reproduced, 125 could not test.',
    '# Environment: REGION (default region0), FS (default ' + fsList[0] + '), MNT (default /mnt/dax-repro).',
    '# WARNING: it reconfigures the first namespace of REGION as fsdax and runs mkfs on it.',
    'set -u',
    'here=$(cd "$(dirname "$0")" && pwd)',
    `FS=\${FS:-${fsList[0]}}`,
    'MNT=${MNT:-/mnt/dax-repro}',
    'REGION=${REGION:-region0}',
    'fail() { echo "setup: $*" >&2; exit 125; }',
    `gcc -Wall -Wextra -O2 -o "$here/${s.id}" "$here/${s.id}.c" || fail "cannot compile ${s.id}.c"`,
    'dev=$(ndctl list -N -r "$REGION" 2>/dev/null | sed -n \'s/.*"blockdev":"\\([^"]*\\)".*/\\1/p\' | head -n1)',
    'if [ -z "$dev" ]; then',
    '  ndctl create-namespace -f -e namespace0.0 -m fsdax -r "$REGION" >/dev/null 2>&1 ||',
    '    ndctl create-namespace -m fsdax -r "$REGION" >/dev/null || fail "no fsdax namespace on $REGION (ndctl create-namespace)"',
    '  dev=$(ndctl list -N -r "$REGION" | sed -n \'s/.*"blockdev":"\\([^"]*\\)".*/\\1/p\' | head -n1)',
    'fi',
    '[ -b "/dev/$dev" ] || fail "no block device for the namespace"',
    'mkdir -p "$MNT"',
    'mountpoint -q "$MNT" && umount "$MNT"',
    'case "$FS" in',
    '  xfs) mkfs.xfs -f -m reflink=0 "/dev/$dev" >/dev/null || fail "mkfs.xfs" ;;',
    '  ext4) mkfs.ext4 -F -q "/dev/$dev" || fail "mkfs.ext4" ;;',
    '  *) fail "FS is xfs or ext4" ;;',
    'esac',
    'mount -o dax "/dev/$dev" "$MNT" || fail "mount -o dax"',
    'dir="$MNT/repro.$$"',
    'mkdir -p "$dir"',
  ];
  if (nullb) {
    lines.push(
      '# irqmode=2: completions come from a timer, completion_nsec later',
      'if ! [ -b /dev/nullb0 ]; then',
      `  modprobe null_blk nr_devices=1 irqmode=2 completion_nsec=${nullb} gb=1 bs=4096 || fail "modprobe null_blk"`,
      'fi',
      `[ "$(cat /sys/module/null_blk/parameters/completion_nsec 2>/dev/null)" = "${nullb}" ] || fail "null_blk is loaded with another completion_nsec (rmmod null_blk first)"`,
      `"$here/${s.id}" "$dir" /dev/nullb0`,
    );
  } else lines.push(`"$here/${s.id}" "$dir"`);
  lines.push('rc=$?', 'rm -rf "$dir"', 'umount "$MNT"', 'exit $rc', '');
  return lines.join('\n');
}
