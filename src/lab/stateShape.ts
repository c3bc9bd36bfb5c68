// The shape of LabState: what the reducer (state.ts) folds every message into, its
// bounds (Limits) and the empty state. Types and constructors only; state.ts re-exports
// all of it, so importers keep taking it from there.
import type {
  ActorExitMessage,
  ActorState,
  EventMessage,
  HostCommand,
  LeaseState,
  LockState,
  PageState,
  ReadyMessage,
  ReplyMessage,
  SignalMessage,
  SnapshotMessage,
  RunEndNote,
  RunStartNote,
} from '../wire/protocol.js';

// ---------------------------------------------------------------------------------------
// The state.

export type Limits = {
  /** Refcount samples kept per page (one per snapshot): the sparkline. */
  refSamples: number;
  /** Refcount changes kept per page (only samples where ref, aboveIdle or pins moved). */
  refChanges: number;
  events: number;
  actions: number;
  signals: number;
  exits: number;
  protocolErrors: number;
  commands: number;
  /** State transitions kept per actor. */
  actorHistory: number;
  /** State transitions kept per lock. */
  lockTransitions: number;
  /** A protocol error's line is kept up to this many characters (the transcript has all of it). */
  protocolErrorLine: number;
};

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  refSamples: 600,
  refChanges: 200,
  events: 2000,
  actions: 500,
  signals: 200,
  exits: 100,
  protocolErrors: 100,
  commands: 200,
  actorHistory: 100,
  lockTransitions: 200,
  protocolErrorLine: 1000,
});

export type RunInfo = Omit<RunStartNote, 'kind'> & { end: Omit<RunEndNote, 'kind'> | null };

export type KernelInfo = Omit<ReadyMessage, 'kind'>;

/** `${file}#${index}`, e.g. "victim#0". */
export type PageKey = string;
/** `${file}:${lock}`, e.g. "victim:invalidate_lock". */
export type LockKey = string;

export const pageKey = (p: { file: string; index: number }): PageKey => `${p.file}#${p.index}`;
export const lockKey = (l: { file: string; lock: string }): LockKey => `${l.file}:${l.lock}`;

export type PageView = PageState & { key: PageKey; t: number };

export type RefSample = { t: number; ref: number; aboveIdle: number; pins: number };

export type PageHistory = {
  key: PageKey;
  /** The idle refcount the agent reported last (1 before v6.15, 0 from v6.15 for fsdax). */
  idle: number;
  firstSeen: number;
  lastSeen: number;
  /** One sample per snapshot that carried the page, oldest first. */
  samples: readonly RefSample[];
  evictedSamples: number;
  /** Samples where ref, aboveIdle or pins differed from the page's previous sample (the first sample counts). */
  changes: readonly RefSample[];
  evictedChanges: number;
  peakAboveIdle: number;
  peakPins: number;
  /** Since when aboveIdle has been <= 0 (the page at its idle refcount), or null while referenced. */
  idleSince: number | null;
};

export type LockTransition = {
  t: number;
  state: LockState['state'];
  readers: number;
  owner: LockState['owner'];
  waiters: LockState['waiters'];
  handoff: boolean;
  error?: string;
};

export type LockView = LockState & {
  key: LockKey;
  t: number;
  /** When the lock entered its current state (state, readers, owner, waiters, handoff). */
  since: number;
};

export type LockHistory = { key: LockKey; transitions: readonly LockTransition[]; evictedTransitions: number };

/** An actor's action, start and end merged by the command id. */
export type ActionRecord = {
  id: number;
  actor: string;
  op: string;
  /** null when the start was never seen (evicted, or the run began mid-action). */
  start: number | null;
  /** null while the action runs. */
  end: number | null;
  ret?: number;
  errno?: number;
  error?: string;
  signal?: string;
  ms?: number;
  result?: Record<string, unknown>;
};

export type ActorTransition = {
  t: number;
  /** The task state letter as sampled (R, S, D, ...), or "gone" when the actor left the snapshot. */
  state: string;
  wchan: string;
  stack: readonly string[];
};

export type ActorView = {
  name: string;
  /** The task as the latest snapshot shows it; null when that snapshot did not carry it. */
  task: ActorState | null;
  /** When the actor entered its current state (state letter + wchan), on the guest clock. */
  stateSince: number | null;
  /** Transitions only (state letter or wchan changed), oldest first. */
  history: readonly ActorTransition[];
  evictedHistory: number;
  /** The latest action the actor started (or ended, if its start was never seen). */
  lastAction: ActionRecord | null;
  actionCount: number;
  lastSignal: SignalMessage | null;
  signalCount: number;
  exit: ActorExitMessage | null;
};

export type CommandRecord = {
  id: number;
  /** Null when the reply came for a command the state never saw sent. */
  t: number | null;
  command: HostCommand | null;
  reply: { t: number; ok: true; result: unknown } | { t: number; ok: false; error: Extract<ReplyMessage, { ok: false }>['error'] } | null;
};

export type ContentionCount = {
  /** Events that named this lock. */
  count: number;
  /** Per event name, e.g. { contention_begin: 3, contention_end: 3 }. */
  byName: Readonly<Record<string, number>>;
  lastT: number;
};

export type VmstatView = {
  /** Each counter's first value seen (normally the first snapshot's). */
  baseline: Readonly<Record<string, number>>;
  latest: Readonly<Record<string, number>>;
  /** latest - baseline per counter; these lag (per-CPU folding): never compare them instantly. */
  delta: Readonly<Record<string, number>>;
};

export type ProtocolErrorRecord = { t: number; message: string; line: string; lineLength: number };

export type LabState = {
  limits: Readonly<Limits>;
  run: RunInfo | null;
  kernel: KernelInfo | null;
  /** Latest `t` seen on any message (the max, so a late line never moves time back); null before any. */
  lastT: number | null;
  messageCount: number;

  /** The latest snapshot's header. */
  snapshot: { seq: number; t: number; costUs?: number } | null;
  snapshotCount: number;
  /** Snapshots the host never saw, from gaps in seq. */
  missedSnapshots: number;
  /** The agent's own drop counters, as the latest snapshot sent them. */
  dropped: SnapshotMessage['dropped'];

  /** The pages of the latest snapshot, in its order. */
  pages: Readonly<Record<PageKey, PageView>>;
  /** Every page ever seen (kept after it leaves the snapshot: a pinned page stays interesting). */
  refHistory: Readonly<Record<PageKey, PageHistory>>;
  /** The locks of the latest snapshot. */
  locks: Readonly<Record<LockKey, LockView>>;
  lockHistory: Readonly<Record<LockKey, LockHistory>>;
  /** Every actor seen in a snapshot, action, signal or exit. */
  actors: Readonly<Record<string, ActorView>>;
  leases: readonly LeaseState[];
  vmstat: VmstatView;

  actions: readonly ActionRecord[];
  evictedActions: number;
  signals: readonly SignalMessage[];
  evictedSignals: number;
  exits: readonly ActorExitMessage[];
  evictedExits: number;

  events: readonly EventMessage[];
  evictedEvents: number;
  eventCount: number;
  /** By `${src}:${name}`, over every event (evicted ones included). */
  eventCounts: Readonly<Record<string, number>>;
  /** By the watched lock an event named (its `lock` field). */
  contention: Readonly<Record<string, ContentionCount>>;

  commands: readonly CommandRecord[];
  evictedCommands: number;

  protocolErrors: readonly ProtocolErrorRecord[];
  evictedProtocolErrors: number;
  protocolErrorCount: number;
};

export function initialState(limits: Partial<Limits> = {}): LabState {
  return {
    limits: Object.freeze({ ...DEFAULT_LIMITS, ...limits }),
    run: null,
    kernel: null,
    lastT: null,
    messageCount: 0,
    snapshot: null,
    snapshotCount: 0,
    missedSnapshots: 0,
    dropped: { events: 0, snapshots: 0 },
    pages: {},
    refHistory: {},
    locks: {},
    lockHistory: {},
    actors: {},
    leases: [],
    vmstat: { baseline: {}, latest: {}, delta: {} },
    actions: [],
    evictedActions: 0,
    signals: [],
    evictedSignals: 0,
    exits: [],
    evictedExits: 0,
    events: [],
    evictedEvents: 0,
    eventCount: 0,
    eventCounts: {},
    contention: {},
    commands: [],
    evictedCommands: 0,
    protocolErrors: [],
    evictedProtocolErrors: 0,
    protocolErrorCount: 0,
  };
}
