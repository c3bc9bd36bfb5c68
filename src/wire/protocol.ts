// The wire protocol between the guest agent and the host: one JSON object a line.
// These schemas are shared by the channel (validation), the reducer and the recorder; the
// host-side notes at the end are what the host adds to the agent's stream in transcripts.
import { z } from 'zod';

const base = { t: z.number() };

export const readyMessage = z.object({
  ...base,
  kind: z.literal('ready'),
  release: z.string(),
  version: z.string(),
  machine: z.string(),
  /** The agent's own pid in the guest (actors are forks of it under other names). */
  pid: z.number().optional(),
  uptime: z.object({ initStart: z.number(), modulesDone: z.number(), agentStart: z.number() }),
  btf: z.boolean(),
  kcore: z.boolean(),
});

export const agentError = z.object({
  stage: z.string(),
  message: z.string(),
  output: z.string().optional(),
});

export const replyMessage = z.discriminatedUnion('ok', [
  z.object({ ...base, kind: z.literal('reply'), id: z.number(), ok: z.literal(true), result: z.unknown() }),
  z.object({ ...base, kind: z.literal('reply'), id: z.number(), ok: z.literal(false), error: agentError }),
]);

/** An actor's action: "start" when the actor begins the syscall(s), "end" when it returns. */
export const actionMessage = z.object({
  ...base,
  kind: z.literal('action'),
  /** The id of the host's "act" command. */
  id: z.number(),
  actor: z.string(),
  op: z.string(),
  phase: z.enum(['start', 'end']),
  ret: z.number().optional(),
  errno: z.number().optional(),
  /** "EOPNOTSUPP", ... */
  error: z.string().optional(),
  /** A signal that ended the action (SIGBUS on a touch of a truncated mapping). */
  signal: z.string().optional(),
  ms: z.number().optional(),
  /** Op-specific results: mmap address and length, bytes moved, ring fd... */
  result: z.record(z.string(), z.unknown()).optional(),
});

/** A signal an actor received outside an action (the lease-break signal). */
export const signalMessage = z.object({
  ...base,
  kind: z.literal('signal'),
  actor: z.string(),
  pid: z.number(),
  signal: z.string(),
  /** si_fd for F_SETSIG lease signals. */
  fd: z.number().optional(),
});

/** An actor process ended (exit op, killed, crashed). */
export const actorExitMessage = z.object({
  ...base,
  kind: z.literal('actor-exit'),
  actor: z.string(),
  pid: z.number(),
  status: z.number().optional(),
  signal: z.string().optional(),
});

export const pageState = z.object({
  /** Which watched page: file (or "anon") and page index within the actor's mapping. */
  file: z.string(),
  index: z.number(),
  /** Present in the actor's page table now; false: the last page seen there (after munmap...). */
  mapped: z.boolean().optional(),
  pfn: z.string(),
  /** Kernel virtual address of the struct page (vmemmap). */
  addr: z.string().optional(),
  zoneDevice: z.boolean(),
  /** Raw struct page _refcount. */
  ref: z.number(),
  /**
   * The kernel's idle refcount for this page type, as the agent calibrated it (fsdax: 1
   * before v6.15, 0 from v6.15; device-dax: 1 on every era).
   */
  idle: z.number(),
  /** Which calibrated model `idle` comes from (ZONE_DEVICE pages by their pgmap type). */
  baseline: z.enum(['fsdax', 'devdax', 'anon', 'pagecache']).optional(),
  /** ref - idle. */
  aboveIdle: z.number(),
  /** FOLL_PIN pins: (aboveIdle / 1024) for small folios, _pincount for large ones. */
  pins: z.number(),
  mapcount: z.number(),
  /** The folio's mappings, PTE and PMD (folio_mapcount()): a PMD-mapped folio's head has mapcount 0. */
  folioMapcount: z.number().optional(),
  /** Not yet on the LRU: a per-CPU batch holds one reference (counted apart from aboveIdle). */
  lruBatch: z.boolean().optional(),
  flags: z.array(z.string()),
  /** page->mapping decoded: file name when it is a watched file's, "anon", or null. */
  mapping: z.string().nullable(),
  pageIndex: z.number().nullable(),
  /** DAX entry of this index in the mapping's i_pages. */
  entry: z.enum(['unlocked', 'locked', 'empty', 'zero', 'none', 'n/a']),
  pmd: z.boolean().optional(),
  error: z.string().optional(),
});

export const rwsemWaiter = z.object({ pid: z.number(), comm: z.string(), type: z.enum(['read', 'write']) });

export const lockState = z.object({
  file: z.string(),
  lock: z.enum(['invalidate_lock', 'i_mmap_rwsem', 'i_rwsem']),
  addr: z.string(),
  state: z.enum(['free', 'read', 'write']),
  readers: z.number(),
  owner: z.object({ pid: z.number(), comm: z.string() }).nullable(),
  waiters: z.array(rwsemWaiter),
  handoff: z.boolean(),
  error: z.string().optional(),
});

export const actorState = z.object({
  name: z.string(),
  pid: z.number(),
  state: z.string(),
  wchan: z.string(),
  /** Since when the task has been continuously in S or D, as seen by the sampler. */
  blockedMs: z.number(),
  stack: z.array(z.string()),
});

export const leaseState = z.object({
  file: z.string(),
  type: z.string(),
  /** ACTIVE, BREAKING, BREAKER ... as /proc/locks says it. */
  state: z.string(),
  /** READ, WRITE, UNLCK */
  mode: z.string(),
  pid: z.number(),
  /** Milliseconds left before the kernel times a breaking lease out (fs.lease-break-time). */
  breakLeftMs: z.number().nullable(),
  /** "kernel": fl_break_time against jiffies; "estimate": from the first sample that saw it breaking. */
  breakSource: z.enum(['kernel', 'estimate']).optional(),
  raw: z.string(),
});

/**
 * Events lost to the kernel's trace buffers, and snapshots not taken because the agent
 * fell behind its rate; inCommands: how many of those snapshots fell while the agent was
 * inside one of its own commands (trace placing kprobes, refwatch arming watchpoints:
 * each kernel step of those can take longer than a 50 ms interval under TCG), by command.
 */
const droppedCounts = z.object({
  events: z.number(),
  snapshots: z.number(),
  inCommands: z.record(z.string(), z.number()).optional(),
});

export const snapshotMessage = z.object({
  ...base,
  kind: z.literal('snapshot'),
  seq: z.number(),
  pages: z.array(pageState),
  locks: z.array(lockState),
  actors: z.array(actorState),
  leases: z.array(leaseState),
  vmstat: z.record(z.string(), z.number()),
  /** Counts of what the agent had to drop since it started: never silent. */
  dropped: droppedCounts,
  /** How long the sampler took for this snapshot (microseconds). */
  costUs: z.number().optional(),
  /** The same, per part (pages, locks, actors, leases, vmstat, dropped). */
  costByPartUs: z.record(z.string(), z.number()).optional(),
  /** The system calls it made, by kind: kcore preads, BPF gathers (and the blocks they read), pagemap, other /proc reads. */
  syscalls: z.record(z.string(), z.number()).optional(),
});

/*
 * What changed since the snapshot before it (seq `base`): the agent sends these while
 * observing, the host rebuilds the full snapshot (AgentLineDecoder) before anyone sees it,
 * so the reducer, the screens and the checks only ever get complete snapshots. A list
 * given as an array replaces the old one; given as an object it patches the old list's
 * entries by index ("3": the members of entry 3 that changed; "error": null removes an
 * error). A part that is absent did not change.
 */
const pagePatch = pageState.partial().extend({ error: z.string().nullable().optional() });
const lockPatch = lockState.partial().extend({ error: z.string().nullable().optional() });
export const snapshotDeltaMessage = z.object({
  ...base,
  kind: z.literal('snapshot-delta'),
  seq: z.number(),
  base: z.number(),
  pages: z.record(z.string(), pagePatch).optional(),
  locks: z.record(z.string(), lockPatch).optional(),
  actors: z.union([z.array(actorState), z.record(z.string(), actorState.partial())]).optional(),
  leases: z.array(leaseState).optional(),
  vmstat: z.record(z.string(), z.number()).optional(),
  dropped: droppedCounts.optional(),
  costUs: z.number().optional(),
  costByPartUs: z.record(z.string(), z.number()).optional(),
  syscalls: z.record(z.string(), z.number()).optional(),
});

export const eventMessage = z.object({
  ...base,
  kind: z.literal('event'),
  /** fs_dax, filelock, lock, kprobe, vmstat */
  src: z.string(),
  name: z.string(),
  pid: z.number().optional(),
  comm: z.string().optional(),
  fields: z.record(z.string(), z.union([z.string(), z.number()])),
  /** For lock contention: the watched lock the address belongs to, e.g. "invalidate_lock of victim". */
  lock: z.string().optional(),
});

/**
 * The agent's heartbeat: once a second from its own thread. The host takes a silence of
 * several seconds as a guest that stopped running.
 */
export const heartbeatMessage = z.object({
  ...base,
  kind: z.literal('heartbeat'),
  seq: z.number(),
  /** The longest the agent's main loop went without reaching a beat point since the last beat (ms). */
  stallMs: z.number().optional(),
});

export const agentMessage = z.union([
  readyMessage,
  replyMessage,
  actionMessage,
  signalMessage,
  actorExitMessage,
  snapshotMessage,
  eventMessage,
  heartbeatMessage,
]);

export type ReadyMessage = z.infer<typeof readyMessage>;
export type ReplyMessage = z.infer<typeof replyMessage>;
export type ActionMessage = z.infer<typeof actionMessage>;
export type SignalMessage = z.infer<typeof signalMessage>;
export type ActorExitMessage = z.infer<typeof actorExitMessage>;
export type SnapshotMessage = z.infer<typeof snapshotMessage>;
export type SnapshotDeltaMessage = z.infer<typeof snapshotDeltaMessage>;
export type EventMessage = z.infer<typeof eventMessage>;
export type HeartbeatMessage = z.infer<typeof heartbeatMessage>;
export type PageState = z.infer<typeof pageState>;
export type LockState = z.infer<typeof lockState>;
export type ActorState = z.infer<typeof actorState>;
export type LeaseState = z.infer<typeof leaseState>;
export type AgentMessage = z.infer<typeof agentMessage>;

/** What the agent answers to "setup": the lab as the guest sees it. */
export const helloResult = z.object({
  timings: z.object({
    modules: z.number(),
    namespace: z.number(),
    mkfs: z.number(),
    mount: z.number(),
    /** How long set-up waited for the agent's module loaders (they start with the agent). */
    moduleWait: z.number().optional(),
    /** Each module's finit_module, ms. */
    moduleLoads: z.record(z.string(), z.number()).optional(),
  }),
  nvdimms: z.array(
    z
      .object({
        slot: z.number(),
        region: z.string(),
        dev: z.string(),
        mode: z.string(),
        size: z.number(),
        blockdev: z.string().optional(),
        align: z.number().optional(),
        daxregion: z.unknown().optional(),
      })
      .passthrough(),
  ),
  mount: z.object({ device: z.string(), mountpoint: z.string(), fstype: z.string(), options: z.string() }),
  statx: z.object({ dax: z.boolean().optional(), maskHasDax: z.boolean().optional(), error: z.string().optional() }),
});
export type HelloResult = z.infer<typeof helloResult>;

export const execResult = z.object({
  status: z.number(),
  stdout: z.string(),
  stderr: z.string(),
  timedOut: z.boolean(),
});
export type ExecResult = z.infer<typeof execResult>;

export type SetupCommand = {
  cmd: 'setup';
  /** Load order resolved on the host from the kernel's index; "?name": a softdep, not fatal. */
  modules: string[];
  nvdimms: Array<{ slot: number; mode: 'fsdax' | 'devdax' }>;
  /**
   * The NVDIMMs come namespaced and formatted (the profile's template): the guest finds
   * the namespaces the kernel set up from their info blocks; no ndctl, no mkfs.
   */
  prepared: boolean;
  /** false: stop after mkfs (the host saves the template, then asks again, prepared). */
  mount?: boolean;
  fs: { type: 'xfs' | 'ext4'; mkfs: string[]; mount: string[] };
  sysctls: Record<string, string>;
};

/** Actions an actor can run: one entry each in ops.ts (the catalogue). */
export type { ActorOp } from './ops.js';
import type { ActorOp } from './ops.js';

/**
 * What pattern_check reports for a page that holds no (whole) tag; a page that is part
 * one tag's pattern, part zeros (read while a punch replaced it) is torn + tag.
 */
export const PATTERN = { zero: 0, garbage: -1, sigbus: -2, short: -3, torn: 2 ** 32 } as const;

export type HostCommand =
  | SetupCommand
  /** program "verbs": the actor runs in daxlab-verbs (libibverbs, for rdma_reg_mr). */
  | { cmd: 'actor-start'; actor: string; program?: 'agent' | 'verbs' }
  | { cmd: 'actor-kill'; actor: string; signal?: string }
  | ({ cmd: 'act'; actor: string } & ActorOp)
  | { cmd: 'watch-pages'; actor: string; pages: number[]; label?: string }
  /** Hardware write watchpoints on watched pages' _refcount (at most 4); [] disarms. */
  | { cmd: 'refwatch'; pages: Array<{ label: string; index: number }> }
  /** Forget every watched page and file (between scenarios on one guest). */
  | { cmd: 'unwatch' }
  | { cmd: 'observe'; hz: number; legacy?: boolean; sampler?: 'kernel' | 'kcore' | 'legacy' }
  | { cmd: 'sample' }
  /** attachUncalled: attach the kprobes measured as never called too (the self-test watches them not fire). */
  | { cmd: 'trace'; events: string[]; kprobes?: string[]; attachUncalled?: boolean; callScanCache?: unknown[] }
  /** How often each lab kprobe fired (tracefs kprobe_profile). */
  | { cmd: 'probe-hits' }
  | { cmd: 'exec'; argv: string[]; timeoutMs?: number }
  | { cmd: 'ping' }
  | { cmd: 'ready' }
  | { cmd: 'poweroff' };

export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly line: string,
  ) {
    super(message);
  }
}

/** Parse one line from the agent; a malformed line is an error naming the line, never a crash. */
export function parseAgentLine(line: string): AgentMessage | SnapshotDeltaMessage {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch (err) {
    throw new ProtocolError(`agent sent a line that is not JSON (${(err as Error).message})`, line);
  }
  if ((data as { kind?: unknown } | null)?.kind === 'snapshot-delta') {
    const delta = snapshotDeltaMessage.safeParse(data);
    if (!delta.success) {
      const issue = delta.error.issues[0]!;
      throw new ProtocolError(`agent message does not match the protocol at ${issue.path.join('.') || 'top level'}: ${issue.message}`, line);
    }
    return delta.data;
  }
  const result = agentMessage.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ProtocolError(`agent message does not match the protocol at ${issue.path.join('.') || 'top level'}: ${issue.message}`, line);
  }
  return result.data;
}

/** Members a patch removes with null (optional, never null in a full snapshot). */
const removable = new Set(['error']);

function patchList<T extends object>(old: readonly T[], patch: Record<string, Partial<T> | Record<string, unknown>>, what: string, line: string): T[] {
  const out = [...old];
  for (const [key, members] of Object.entries(patch)) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= out.length)
      throw new ProtocolError(`snapshot-delta patches ${what} ${key}, but the snapshot before it has ${out.length}`, line);
    const entry = { ...out[i]! } as Record<string, unknown>;
    for (const [k, v] of Object.entries(members)) {
      if (v === null && removable.has(k)) delete entry[k];
      else entry[k] = v;
    }
    out[i] = entry as T;
  }
  return out;
}

/** The full snapshot a delta describes, from the snapshot before it. */
export function applySnapshotDelta(prev: SnapshotMessage, d: SnapshotDeltaMessage, line: string): SnapshotMessage {
  if (d.base !== prev.seq) throw new ProtocolError(`snapshot-delta ${d.seq} is against snapshot ${d.base}, but the last snapshot was ${prev.seq}`, line);
  const next: SnapshotMessage = {
    t: d.t,
    kind: 'snapshot',
    seq: d.seq,
    pages: d.pages ? patchList(prev.pages, d.pages, 'page', line) : prev.pages,
    locks: d.locks ? patchList(prev.locks, d.locks, 'lock', line) : prev.locks,
    actors: Array.isArray(d.actors) ? d.actors : d.actors ? patchList(prev.actors, d.actors, 'actor', line) : prev.actors,
    leases: d.leases ?? prev.leases,
    vmstat: d.vmstat ?? prev.vmstat,
    dropped: d.dropped ?? prev.dropped,
  };
  if (d.costUs !== undefined) next.costUs = d.costUs;
  if (d.costByPartUs !== undefined) next.costByPartUs = d.costByPartUs;
  if (d.syscalls !== undefined) next.syscalls = d.syscalls;
  return next;
}

/**
 * Agent lines to messages, in order, for one stream (a channel or a transcript's replay):
 * rebuilds each snapshot-delta into the full snapshot. A transcript written before deltas
 * existed has only full snapshots and decodes as it always did.
 */
export class AgentLineDecoder {
  private last: SnapshotMessage | null = null;

  decode(line: string): AgentMessage {
    const m = parseAgentLine(line);
    if (m.kind === 'snapshot') this.last = m;
    if (m.kind !== 'snapshot-delta') return m;
    if (!this.last) throw new ProtocolError(`snapshot-delta ${m.seq} came before any full snapshot`, line);
    this.last = applySnapshotDelta(this.last, m, line);
    return this.last;
  }
}

// ---------------------------------------------------------------------------------------
// Host-side notes: what the host adds to the agent's message stream.

export const protocolErrorNote = z.object({
  kind: z.literal('protocol-error'),
  t: z.number(),
  /** The ProtocolError's message, as parseAgentLine worded it. */
  message: z.string(),
  /** The offending line exactly as received. */
  line: z.string(),
});

export const runStartNote = z.object({
  kind: z.literal('run-start'),
  t: z.number(),
  runId: z.string(),
  /** Profile name. */
  profile: z.string(),
  scenario: z.string().optional(),
  /** The kernel the profile names (package or bzImage path), as the host knows it before boot. */
  kernel: z.string().optional(),
  /** Host wall-clock time of the start (ISO 8601); data, not a clock read by the reducer. */
  wall: z.string().optional(),
});

export const runEndNote = z.object({
  kind: z.literal('run-end'),
  t: z.number(),
  /** "ok", "failed", "aborted", ... */
  status: z.string(),
  exitCode: z.number().optional(),
  reason: z.string().optional(),
  wall: z.string().optional(),
});

/** A command the host wrote to the agent (the `id` is the one on the wire). */
export const commandNote = z.object({
  kind: z.literal('command'),
  t: z.number(),
  id: z.number(),
  // Checked loosely here (a "cmd" string); the host built it from the HostCommand type.
  command: z.looseObject({ cmd: z.string() }).transform((c) => c as unknown as HostCommand),
});

export const hostNote = z.discriminatedUnion('kind', [protocolErrorNote, runStartNote, runEndNote, commandNote]);

export type ProtocolErrorNote = z.infer<typeof protocolErrorNote>;
export type RunStartNote = z.infer<typeof runStartNote>;
export type RunEndNote = z.infer<typeof runEndNote>;
export type CommandNote = z.output<typeof commandNote>;
export type HostNote = ProtocolErrorNote | RunStartNote | RunEndNote | CommandNote;
/** Everything the reducer folds: the agent's messages and the host's notes. */
export type HostMessage = AgentMessage | HostNote;
