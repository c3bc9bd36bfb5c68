// The kernel era: the facts the lab's numbers depend on that change from one kernel to the
// next, in one place. What the lab decides by is what it observes on the running kernel —
// the idle refcount the agent measured (its "observe" reply carries the calibration), what
// BTF has — never a version number alone. Versions only say where a fact sits in history:
// the self-test predicts from them and cross-checks the prediction with the measurement,
// and scenarios may name a range of releases a step applies to.
//
// Adding an era's knowledge is adding a row to a table below, with the observed fact it is
// recognised by; a version bound on a row is for prose and predictions.
import type { ReadyMessage } from '../wire/protocol.js';

// ---------------------------------------------------------------------------------------
// Releases.

export type KernelVersion = readonly [major: number, minor: number];

/** "6.1.0-31-amd64" -> [6, 1]; a release that does not start with a version is [0, 0]. */
export function kernelVersion(release: string): KernelVersion {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** "6.1.0-56-amd64" -> "6.1", "6.12.95+deb12-amd64" -> "6.12": the line, for people, never for layouts. */
export function kernelLine(release: string | null | undefined): string | null {
  const [major, minor] = kernelVersion(release ?? '');
  return major ? `${major}.${minor}` : null;
}

export function compareVersion(a: KernelVersion, b: KernelVersion): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** Whether `release` is at least `version` ("6.15"). */
export function releaseAtLeast(release: string, version: string): boolean {
  return compareVersion(kernelVersion(release), kernelVersion(version)) >= 0;
}

// ---------------------------------------------------------------------------------------
// Pins.

/** GUP_PIN_COUNTING_BIAS: what one FOLL_PIN adds to a small folio's refcount (mm.h, since v5.7). */
export const GUP_PIN_COUNTING_BIAS = 1024;

/**
 * Who refuses a long-term pin (FOLL_LONGTERM) of which memory, with the errno the caller
 * sees. `before`/`from` place a rule in history; the scenarios assert what the running
 * kernel does (an errno, no reference left behind), so a new era is a new row here and in
 * the prose, never a different expectation by version.
 */
export type LongtermRefusal = {
  who: 'gup' | 'io_uring';
  memory: string;
  errno: 'EOPNOTSUPP';
  /** Read in the source of these releases (NOTES.md, "longterm-pin"). */
  seenOn: readonly string[];
  /** Gone by this release (an upper bound from reading the source, not the commit that changed it). */
  goneBy?: string;
  why: string;
};

export const LONGTERM_PIN_REFUSALS: readonly LongtermRefusal[] = [
  {
    who: 'gup',
    memory: 'fsdax',
    errno: 'EOPNOTSUPP',
    seenOn: ['6.1', '6.12', '7.2'],
    why: 'nothing could make the holder give the page back when the filesystem needs the block (check_vma_flags: vma_is_fsdax)',
  },
  {
    who: 'io_uring',
    memory: 'file-backed other than shmem and hugetlbfs (device-dax included)',
    errno: 'EOPNOTSUPP',
    seenOn: ['6.1'],
    goneBy: '6.12',
    why: '6.1 io_pin_pages() (io_uring/rsrc.c) pins and then refuses such a vma itself; by 6.12 (io_uring/memmap.c) it accepts what GUP accepts',
  },
];

/** The refusals in force on a release, in words (the self-test's and the report's prose). */
export function longtermRefusals(release: string): LongtermRefusal[] {
  return LONGTERM_PIN_REFUSALS.filter((r) => !r.goneBy || !releaseAtLeast(release, r.goneBy));
}

// ---------------------------------------------------------------------------------------
// The idle refcount of a page nothing references.

/** One page kind's refcount model as the agent reports it (observer.c baseline_json). */
export type Baseline = {
  known: boolean;
  /** Calibrated on this kernel (a probe page mapped twice), not a rule. */
  measured?: boolean;
  idle?: number;
  /** Each mapping adds one to the refcount. */
  mappingsHoldRefs?: boolean;
  evidence?: unknown;
  error?: string;
};

/** The agent's "observe" reply: the sampling rate and the baselines in force. */
export type ObserveReply = {
  hz?: number;
  baselines?: { fsdax?: Baseline; devdax?: Baseline; anon?: Baseline; pagecache?: Baseline };
  /** How the agent samples: null reasons when it reads kernel memory for all of it (observer.c). */
  sampler?: { kind: string; gather: string | null; actors: string | null };
};

/** The fsdax idle refcount the agent measured, or null when it could not. */
export function measuredFsdaxIdle(reply: ObserveReply): number | null {
  const b = reply.baselines?.fsdax;
  return b?.known ? (b.idle ?? null) : null;
}

/**
 * History of the fsdax idle refcount: 1 before v6.15, 0 from v6.15 (the 2022 thread; Alistair
 * Popple's series made fsdax pages free at refcount 0). A prediction, cross-checked against
 * the measured baseline by the self-test: the lab itself uses the measurement.
 */
const FSDAX_IDLE_HISTORY: ReadonlyArray<{ from: string; idle: number }> = [
  { from: '0.0', idle: 1 },
  { from: '6.15', idle: 0 },
];

export function expectedFsdaxIdle(release: string): number {
  return FSDAX_IDLE_HISTORY.filter((h) => releaseAtLeast(release, h.from)).at(-1)!.idle;
}

export const FSDAX_IDLE_RULE = 'fsdax pages idle at 1 before v6.15, 0 from v6.15';

/** The device-dax idle refcount the agent measured, or null when it could not (no device-dax). */
export function measuredDevdaxIdle(reply: ObserveReply): number | null {
  const b = reply.baselines?.devdax;
  return b?.known ? (b.idle ?? null) : null;
}

/**
 * History of device-dax (MEMORY_DEVICE_GENERIC) pages: idle at 1 on every era (7.2's
 * __init_zone_device_page() leaves them at 1 and free_zone_device_folio() resets them to 1,
 * unlike fsdax); mappings hold nothing before v6.15 (pfn-mapped devmap PMDs) and a reference
 * and a mapcount each from v6.15 (drivers/dax/device.c vmf_insert_folio_pmd()). A prediction
 * the self-test checks against the calibration.
 */
const DEVDAX_HISTORY: ReadonlyArray<{ from: string; idle: number; mappingsHoldRefs: boolean }> = [
  { from: '0.0', idle: 1, mappingsHoldRefs: false },
  { from: '6.15', idle: 1, mappingsHoldRefs: true },
];

export function expectedDevdax(release: string): { idle: number; mappingsHoldRefs: boolean } {
  const h = DEVDAX_HISTORY.filter((x) => releaseAtLeast(release, x.from)).at(-1)!;
  return { idle: h.idle, mappingsHoldRefs: h.mappingsHoldRefs };
}

export const DEVDAX_IDLE_RULE = 'device-dax pages idle at 1 on every era; from v6.15 each mapping holds a reference and a mapcount';

// ---------------------------------------------------------------------------------------
// The kernel as the lab sees it.

/** What the lab knows of the running kernel's era: what it observed, and its release. */
export type Era = {
  release: string;
  version: KernelVersion;
  /** The kernel has BTF (/sys/kernel/btf/vmlinux): the observer can read struct pages. */
  btf: boolean;
  /** The measured fsdax idle refcount (null: not measured). */
  fsdaxIdle: number | null;
  pinBias: number;
};

export function eraOf(ready: Pick<ReadyMessage, 'release' | 'btf'>, observe: ObserveReply): Era {
  return { release: ready.release, version: kernelVersion(ready.release), btf: ready.btf, fsdaxIdle: measuredFsdaxIdle(observe), pinBias: GUP_PIN_COUNTING_BIAS };
}

// ---------------------------------------------------------------------------------------
// What the lab can see happen on this kernel: the tracepoints and kprobes that were placed.

/**
 * The agent's "trace" reply (trace.c cmd_trace): the kprobes attached and not, each with
 * its status ("attached", "unavailable", "not called") and why, and the tracepoints
 * ("sys:event") this kernel has of the systems asked for.
 */
export type TraceReply = {
  events?: string[];
  eventsFailed?: string[];
  kprobes?: string[];
  kprobesFailed?: string[];
  kprobeStatus?: ProbeStatus[];
  tracepoints?: string[];
  /**
   * How the agent measured whether each probe point is called (a scan of the kernel's code
   * and data); key and results are what the host keeps (callScanCache.ts); cached: the
   * host's earlier answer for this kernel and module set was used.
   */
  callScan?: { measured: boolean; ms?: number; error?: string; key?: string; cached?: boolean; results?: unknown[] };
};

/**
 * One lab kprobe on this kernel (trace.c probe_status): "attached", "not called" (the
 * function exists, and nothing in the kernel's or the modules' code and data calls it or
 * takes its address: its callers inlined it) or "unavailable", and the measurement.
 */
export type ProbeStatus = {
  name: string;
  function: string;
  status: string;
  why?: string;
  attached?: boolean;
  /** call / jmp / jcc rel32 to the function, in the kernel's text and the modules'. */
  callSites?: number;
  /** lea of its address, and 8-byte words in data equal to it (ops tables). */
  addressRefs?: number;
  /** The first call sites, by symbol: "xfs_break_layouts+0x4c [xfs], ...". */
  callers?: string;
  /** Why calls were not measured. */
  callsMeasured?: string;
};

/** The agent's "probe-hits" reply: kprobe_profile. */
export type ProbeHits = { probes: Array<{ name: string; hits: number; missed: number }> };

/** Whether an event a check waits for can happen on this kernel at all. */
export type Observability = { observable: true } | { observable: false; why: string };

/**
 * An event check names its events by a regular expression. When no attached lab kprobe
 * matches it but one that was not attached does (the function is missing on this kernel,
 * or exists and is not called there: inlined into its callers), the event cannot be seen:
 * the check does not apply, whatever the kernel did. Otherwise the expression is taken as a
 * tracepoint's: observable when one of the tracepoints this kernel listed matches it (a
 * tracepoint an older or newer kernel lacks, e.g. 7.x's missing fs_dax:dax_insert_mapping,
 * is not).
 */
export function eventObservability(name: string, reply: TraceReply | null): Observability {
  if (!reply) return { observable: false, why: 'tracing was not set up in this run' };
  const re = new RegExp(name);
  if ((reply.kprobes ?? []).some((k) => re.test(k))) return { observable: true };
  const missing = (reply.kprobesFailed ?? []).filter((k) => re.test(k));
  if (missing.length) {
    const why = missing.map((k) => {
      const st = reply.kprobeStatus?.find((x) => x.name === k);
      return `${k}: ${st?.why ?? st?.status ?? 'not attached'}`;
    });
    return { observable: false, why: `the lab's kprobe is not attached on this kernel (${why.join('; ')}), so /${name}/ cannot be seen here` };
  }
  if (reply.tracepoints) {
    if (reply.tracepoints.some((tp) => re.test(tp.split(':').at(-1)!) || re.test(tp))) return { observable: true };
    return { observable: false, why: `no lab kprobe and none of this kernel's tracepoints (${reply.tracepoints.length} listed) match /${name}/` };
  }
  const failedSystems = (reply.eventsFailed ?? []).filter((spec) => re.test(spec.split('/').at(-1)!) || re.test(spec));
  if (failedSystems.length) return { observable: false, why: `tracepoints ${failedSystems.join(', ')} are not in this kernel's tracefs` };
  return { observable: true };
}
