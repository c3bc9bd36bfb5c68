// The self-test's samplers-agree check: one still state read by each of the agent's
// samplers, compared field by field.
import diff from 'microdiff';
import type { SnapshotMessage } from '../wire/protocol.js';
import type { LabDriver } from './driver.js';
import type { Check } from './selftest.js';

type SamplerReply = { sampler?: { kind: string; gather: string | null; actors: string | null } };

/** Rows keyed by @key; a key seen again gets "~2", "~3" (two actors watching one page). */
function keyed<T>(rows: readonly T[], key: (row: T) => string): Record<string, T> {
  const out: Record<string, T> = {};
  for (const row of rows) {
    let k = key(row);
    for (let n = 2; k in out; n++) k = `${key(row)}~${n}`;
    out[k] = row;
  }
  return out;
}

/** A snapshot keyed by what each row is (a page by file and index, a lock by name and file,
 * an actor by name), so that a difference reads as a path: "pages.anon#2.flags.1". */
function samplerView(s: SnapshotMessage): Record<string, Record<string, unknown>> {
  return {
    pages: keyed(s.pages, (p) => `${p.file}#${p.index}`),
    locks: keyed(s.locks, (l) => `${l.lock} of ${l.file}`),
    actors: keyed(
      s.actors.map(({ blockedMs: _, ...a }) => a),
      (a) => a.name,
    ),
  };
}

type Difference = { path: string; text: string };

function differences(a: SnapshotMessage, b: SnapshotMessage): Difference[] {
  return diff(samplerView(a), samplerView(b)).map((d) => {
    const path = d.path.join('.');
    const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
    return { path, text: `${path}: ${show(d.type === 'CREATE' ? undefined : d.oldValue)} -> ${show(d.type === 'REMOVE' ? undefined : d.value)}` };
  });
}

/** Each field two snapshots disagree on (blockedMs aside): "pages.anon#2.flags.1: a -> b". */
export function snapshotDifferences(a: SnapshotMessage, b: SnapshotMessage): string[] {
  return differences(a, b).map((d) => d.text);
}

/** The same state read by each sampler in turn, and by the default once more at the end. */
export async function readEachSampler(driver: LabDriver): Promise<Record<'kernel' | 'kcore' | 'legacy' | 'again', SnapshotMessage>> {
  await driver.channel.request({ cmd: 'observe', hz: 0 });
  const kernel = await driver.sample();
  await driver.channel.request({ cmd: 'observe', hz: 0, sampler: 'kcore' });
  const kcore = await driver.sample();
  await driver.channel.request({ cmd: 'observe', hz: 0, sampler: 'legacy' });
  const legacy = await driver.sample();
  await driver.channel.request({ cmd: 'observe', hz: 0 });
  const again = await driver.sample();
  return { kernel, kcore, legacy, again };
}

const SAMPLER_ATTEMPTS = 3;

/**
 * The default sampler reads kernel memory for nearly everything (blocks gathered by a BPF
 * program, the actors' page tables and scheduling counters from their task_struct); the
 * "kcore" one reads each block through /proc/kcore and the actors through /proc, and the
 * "legacy" one reads every field on its own, pagemap per page and /proc per sample. On a
 * state that does not move, their full snapshots must be the same. The default sampler
 * reads once more after the other two: if that read differs from its first, the kernel
 * changed something in between (a page leaving a per-CPU LRU batch, a flag the reclaim
 * code set) and the comparison is made again, up to SAMPLER_ATTEMPTS times. A state that
 * moved in every attempt fails the check (it was to be still), with the fields that moved
 * named apart from those the samplers disagree on.
 */
export async function samplersAgree(driver: LabDriver): Promise<Check> {
  const said = ((await driver.channel.request({ cmd: 'observe', hz: 0 })) as SamplerReply).sampler ?? null;
  let read: (Awaited<ReturnType<typeof readEachSampler>> & { moved: Difference[] }) | undefined;
  let attempts = 0;
  while (attempts < SAMPLER_ATTEMPTS && (!read || read.moved.length)) {
    attempts++;
    const each = await readEachSampler(driver);
    read = { ...each, moved: differences(each.kernel, each.again) };
  }
  const { kernel, kcore, legacy } = read!;
  const moved = read!.moved.map((d) => d.text);
  const after = ((await driver.channel.request({ cmd: 'observe', hz: 0 })) as SamplerReply).sampler ?? null;
  const movedPaths = new Set(read!.moved.map((d) => d.path));
  const disagreeing = (other: SnapshotMessage) => differences(kernel, other).filter((d) => !movedPaths.has(d.path)).map((d) => d.text);
  const kcoreDiff = disagreeing(kcore);
  const legacyDiff = disagreeing(legacy);
  const fellBack = [said?.gather && `blocks from kcore one by one: ${said.gather}`, said?.actors && `actors from /proc: ${said.actors}`].filter(Boolean);
  const notes = [
    fellBack.length ? `the default sampler fell back on this kernel (${fellBack.join('; ')})` : '',
    moved.length ? `the state did not hold still: the default sampler's second read differed from its first in each of ${attempts} attempts (${moved.join('; ')}); those fields are left out of the differences` : '',
  ].filter(Boolean);
  return {
    id: 'samplers-agree',
    description: "one still state read by each of the agent's samplers: kernel memory gathered by BPF (the default), kcore block by block, and field by field with pagemap and /proc",
    observed: {
      sampler: said,
      after,
      attempts,
      moved,
      kcoreDiffers: kcoreDiff,
      syscalls: { kernel: kernel.syscalls ?? null, kcore: kcore.syscalls ?? null },
    },
    expected: { moved: [], kcoreDiffers: [], legacyDiffers: [] },
    note: notes.length ? notes.join('. ') : undefined,
    crossCheck: {
      source: 'the legacy sampler: every field its own kcore read, the page tables through /proc/<pid>/pagemap, the tasks through /proc/<pid>/stat and stack',
      value: legacyDiff.length ? { legacyDiffers: legacyDiff } : 'equal',
      held: legacyDiff.length === 0,
    },
    held: !!said && moved.length === 0 && kcoreDiff.length === 0,
  };
}
