// The scenario engine: runs a scenario on a booted guest through the LabDriver, folds every
// message into the lab state (state.ts, fed by followChannel) and evaluates each
// expectation over that state into a verdict: held, violated or not-applicable.
//
// A violated expectation is a finding about the kernel, reported with its evidence
// (refcount history, lock states, stacks, events, timestamps) and never retried away.
// A precondition that does not come about (a wait that times out, a part of the lab the
// kernel cannot provide) makes the rest of the run not-applicable: "could not test".
// However a run ends, every actor is killed and reaped; an actor that cannot be ended is
// itself reported, and the caller is told the guest is no longer fit for another run.
//
// Split by concern: guest preparation (guestPrep.ts), op translation (../wire/ops.ts),
// tables (tables.ts), the text report (reportText.ts), the trace set (trace.ts). What is
// left here is one class over ~900 lines because the steps, the polling loops, the hang
// detector, the race runner and the clean-up all read and write the same run state
// (the fold, the step map, the actions started, why the run stopped); separating those
// means passing that state around, which is the next step, not done yet.
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError, type AgentLink } from '../wire/link.js';
import { LabDriver } from './driver.js';
import { eventObservability, measuredDevdaxIdle, measuredFsdaxIdle, type ObserveReply, type ProbeHits, type TraceReply } from './era.js';
import { traceCommand } from './trace.js';
import { putPath, type PutPath, type RefWatchReply, type RefWatchStatus } from './putpath.js';
import { ensureNullBlk, ensureRdma, type GuestShell } from './guestPrep.js';
import { tableCell, type Table } from './tables.js';
import { toWireOp } from '../wire/ops.js';
import { contextEvidence, describe, evaluate, hangCheck, type DataCheck, type EvalContext, type Outcome, type Status } from './expect.js';
import type { Profile } from '../config/profiles.js';
import type { ActorOp, HelloResult, ReadyMessage } from '../wire/protocol.js';
import { applyRound, checkFinal, checkRound, initialShadow, mutationOp, planRound, prng, type RoundPlan, type Shadow } from './race.js';
import { followChannel, type RunFeed } from '../wire/transcript.js';
import {
  AVAILABLE,
  conditionHolds,
  type ConditionContext,
  type Predicate,
  type Race,
  type Scenario,
  type ScenarioOp,
  type Step,
} from './scenario.js';
import type { HostMessage } from '../wire/protocol.js';
import { initialState, reduce, type ActionRecord, type LabState } from './state.js';
import { parseScenarioDuration, parseSize, type DurationVars } from '../config/units.js';

/** What the engine needs of a booted guest (a GuestSession has all of it). */
export type LabTarget = {
  channel: AgentLink;
  hello: HelloResult;
  ready: ReadyMessage;
  profile: Profile;
  /** The run's transcript (the session records every line). */
  transcript?: string;
};

/** What a caller sees after each step (tests use it to read facts independently, mid-run). */
export type StepHook = {
  stepId: string;
  /** 0-based. */
  index: number;
  status: StepRecord['status'];
  pids: Readonly<Record<string, number>>;
  /** The run's directories in the guest: on the DAX mount, and on tmpfs. */
  dirs: { dax: string; tmp: string };
  verdicts: readonly Verdict[];
  state: LabState;
  report: () => { measurements: Record<string, unknown>; tables: Record<string, Table> };
};

/**
 * What a run says as it goes, typed: the TUI follows a run by these (never by its log text).
 * step-started comes for every step that runs or is skipped (not for one not reached);
 * step-ended for every step, with its record; a violated verdict is followed by its finding.
 */
export type RunEvent =
  | { kind: 'step-started'; index: number; stepId: string; skipped: boolean }
  | { kind: 'step-ended'; index: number; record: StepRecord }
  | { kind: 'verdict'; verdict: Verdict }
  | { kind: 'finding'; finding: Finding }
  | { kind: 'run-ended'; report: ScenarioReport };

export type RunOptions = {
  /** Seed for scenarios with races (default 1: runs repeat unless asked otherwise). */
  seed?: number;
  /** One line per step and verdict, as they happen: for people (the CLI's stderr). */
  log?: (line: string) => void;
  /** The run's typed events, as they happen: for programs (the TUI). */
  onEvent?: (event: RunEvent) => void;
  /** Called after every step (run, skipped or not reached), before the next one begins. */
  afterStep?: (hook: StepHook) => Promise<void> | void;
};

export type Verdict = {
  id: string;
  /** 1-based step number; null for run-level expectations (the hang detector, cleanup). */
  step: number | null;
  stepId: string | null;
  check: string;
  description: string;
  status: Status;
  /** What was seen, in words. */
  detail: string;
  evidence: Record<string, unknown>;
  /** Set when the expectation is a precondition (a step's waitFor). */
  precondition?: true;
  /** Guest time the verdict was reached. */
  t: number | null;
};

export type Finding = { expectation: string; summary: string; evidence: Record<string, unknown> };

export type { Table, TableCell } from './tables.js';

export type StepRecord = {
  step: number;
  id: string;
  say: string;
  status: 'ran' | 'skipped' | 'not-reached';
  reason?: string;
  actor?: string;
  op?: string;
  action?: { ret?: number; error?: string; signal?: string; ms?: number; result?: Record<string, unknown> } | null;
  start: number | null;
  end: number | null;
};

export type ScenarioReport = {
  scenario: { id: string; title: string; summary: string; threads: Scenario['threads']; era: string[] };
  kernel: { release: string; version: string; fsdaxIdleRefcount: number | null; devdaxIdleRefcount?: number | null };
  profile: { name: string; fs: string };
  seed: number;
  /** "held": every expectation held; "finding": the kernel did something an expectation rules out; "cannot-test". */
  verdict: 'held' | 'finding' | 'cannot-test';
  /** git bisect run: 0 held, 1 finding, 125 cannot test. */
  exitCode: 0 | 1 | 125;
  cannotTest: string | null;
  expectations: Verdict[];
  findings: Finding[];
  steps: StepRecord[];
  tables: Record<string, Table>;
  measurements: Record<string, unknown>;
  available: Record<(typeof AVAILABLE)[number], boolean>;
  cleanup: { killed: string[]; stuck: string[]; guestReusable: boolean; notes: string[] };
  /** Each actor's pid in the guest. */
  actors: Record<string, number>;
  dirs: { dax: string; tmp: string };
  transcript: string | null;
  durationMs: number;
};

let instances = 0;

const ACTION_TIMEOUT = '30s';
/** Host-side slack on top of a predicate's own bound (the guest clock moves with snapshots). */
const SLACK_MS = 15_000;

type StepInfo = { index: number; actionId: number | null; actor: string | null; start: number; end: number | null; before: LabState | undefined };

class Run {
  state: LabState = initialState({ events: 5000, actions: 2000 });
  readonly driver: LabDriver;
  private feed: RunFeed | null = null;
  readonly verdicts: Verdict[] = [];
  readonly findings: Finding[] = [];
  readonly stepRecords: StepRecord[] = [];
  readonly steps = new Map<string, StepInfo>();
  readonly dataChecks: DataCheck[] = [];
  readonly tables: Record<string, Table> = {};
  readonly measurements: Record<string, unknown> = {};
  readonly available: Record<(typeof AVAILABLE)[number], boolean> = { devdax: false, rdma: false, nullBlk: false };
  /** The last action the engine started in each actor (its start message may still be on the way). */
  private lastStarted = new Map<string, { id: number; op: string }>();
  private stopped: { why: string; kind: 'precondition' | 'hang' } | null = null;
  private cannotTest: string | null = null;
  private vars: DurationVars = { 'lease-break-time': NaN };
  private idleBaseline: number | null = null;
  private devdaxIdle: number | null = null;
  /** What tracing this run got: the tracepoints and kprobes placed, and those that could not be. */
  private traced: TraceReply | null = null;
  /** The refcount watchpoints (putpath.ts): the pages asked for, and what the agent armed. */
  private refWatched: Array<{ label: string; index: number }> = [];
  private refWatch: RefWatchStatus | undefined;
  private readonly instance: string;
  private readonly actorNames: string[];
  private readonly seed: number;
  private devdax: string | null = null;
  private runStart = 0;
  private readonly pids: Record<string, number> = {};

  get dirs(): { dax: string; tmp: string } {
    return { dax: `/mnt/dax/${this.instance}`, tmp: `/tmp/daxlab/${this.instance}` };
  }

  constructor(
    readonly target: LabTarget,
    readonly scenario: Scenario,
    readonly opts: RunOptions,
  ) {
    this.driver = new LabDriver(target.channel);
    this.instance = `${scenario.id}-${process.pid}-${++instances}`;
    this.actorNames = scenario.actors.map((a) => a.name);
    this.seed = opts.seed ?? 1;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  private emit(event: RunEvent): void {
    this.opts.onEvent?.(event);
  }

  get now(): number {
    return this.state.lastT ?? 0;
  }

  private dispatch = (m: HostMessage) => {
    this.state = reduce(this.state, m);
  };

  // -------------------------------------------------------------------------------------
  // The run.

  async run(): Promise<ScenarioReport> {
    const began = performance.now();
    this.feed = followChannel(this.target.channel, { dispatch: this.dispatch });
    let cleanup: ScenarioReport['cleanup'] = { killed: [], stuck: [], guestReusable: true, notes: [] };
    try {
      await this.prepare();
      this.runStart = this.now;
      if (!this.cannotTest) {
        for (const [index, step] of this.scenario.steps.entries()) {
          await this.runStep(step, index);
          const record = this.stepRecords[this.stepRecords.length - 1]!;
          this.emit({ kind: 'step-ended', index, record });
          await this.opts.afterStep?.({
            stepId: record.id,
            index,
            status: record.status,
            pids: this.pids,
            dirs: this.dirs,
            verdicts: this.verdicts,
            state: this.state,
            report: () => ({ measurements: this.measurements, tables: this.tables }),
          });
        }
        this.finishHangDetector();
      }
    } finally {
      await this.recordProbeHits();
      try {
        cleanup = await this.cleanup();
      } finally {
        this.feed.detach();
        this.driver.close();
      }
    }
    const report = this.report(cleanup, Math.round(performance.now() - began));
    this.emit({ kind: 'run-ended', report });
    return report;
  }

  /** How often each lab kprobe fired in this run: "attached, fired N times" (kprobe_profile). */
  private async recordProbeHits(): Promise<void> {
    if (!this.traced) return;
    try {
      const hits = (await this.target.channel.request({ cmd: 'probe-hits' })) as ProbeHits;
      this.measurements.probeHits = Object.fromEntries(hits.probes.filter((p) => (this.traced?.kprobes ?? []).includes(p.name)).map((p) => [p.name, p.hits]));
    } catch {
      // an agent without the command, or a guest gone: the run's verdicts do not depend on it
    }
  }

  private report(cleanup: ScenarioReport['cleanup'], durationMs: number): ScenarioReport {
    const s = this.scenario;
    const preconditionFailed = this.verdicts.some((v) => v.precondition && v.status !== 'held');
    const cannot = this.cannotTest ?? (preconditionFailed ? this.stopped?.why ?? 'a precondition did not come about' : null);
    const exitCode = this.findings.length ? 1 : cannot ? 125 : 0;
    if (Object.keys(this.state.contention).length) this.measurements.contention = this.state.contention;
    if (this.refWatch) this.measurements.putPath = this.putPaths();
    this.measurements.snapshots = { taken: this.state.snapshotCount, missed: this.state.missedSnapshots, dropped: this.state.dropped };
    return {
      scenario: { id: s.id, title: s.title, summary: s.summary, threads: s.threads, era: s.era },
      kernel: { release: this.target.ready.release, version: this.target.ready.version, fsdaxIdleRefcount: this.idleBaseline, devdaxIdleRefcount: this.devdaxIdle },
      profile: { name: this.target.profile.name, fs: this.target.hello.mount.fstype },
      seed: this.seed,
      verdict: exitCode === 1 ? 'finding' : exitCode === 125 ? 'cannot-test' : 'held',
      exitCode,
      cannotTest: cannot,
      expectations: this.verdicts,
      findings: this.findings,
      steps: this.stepRecords,
      tables: this.tables,
      measurements: this.measurements,
      available: { ...this.available },
      cleanup,
      actors: { ...this.pids },
      dirs: this.dirs,
      transcript: this.target.transcript ?? null,
      durationMs,
    };
  }

  // -------------------------------------------------------------------------------------
  // Preparation: what the scenario needs of the guest.

  private async exec(argv: string[], timeoutMs = 30_000) {
    return this.driver.exec(argv, timeoutMs);
  }

  private readonly shell: GuestShell = { exec: (argv, timeoutMs) => this.exec(argv, timeoutMs), log: (line) => this.log(line) };

  private async prepare(): Promise<void> {
    const s = this.scenario;
    const fs = this.target.hello.mount.fstype;
    if (s.needs.fs && !s.needs.fs.includes(fs as 'xfs')) {
      this.cannotTest = `${s.id} needs ${s.needs.fs.join(' or ')}; this profile mounts ${fs} (try --profile ${s.needs.fs.includes('ext4') ? 'ext4' : 'default'})`;
      return;
    }
    const ns = this.target.hello.nvdimms.find((n) => n.mode === 'devdax');
    const region = ns?.daxregion as { devices?: Array<{ chardev?: string }> } | undefined;
    this.devdax = region?.devices?.[0]?.chardev ?? null;
    this.available.devdax = this.devdax !== null;
    if (s.needs.devdax === 'required' && !this.available.devdax) {
      this.cannotTest = `${s.id} needs a devdax namespace; profile ${this.target.profile.name} has none`;
      return;
    }
    // The profile sets the rate; the time-bounded checks (hundreds of ms) need at least
    // 20 Hz, or what the scenario asks for.
    const hz = Math.max(this.target.profile.sampling.hz, s.sampleHz ?? 20);
    const observe = (await this.target.channel.request({ cmd: 'observe', hz })) as ObserveReply;
    this.idleBaseline = measuredFsdaxIdle(observe);
    this.devdaxIdle = measuredDevdaxIdle(observe);
    // Tracing for the dashboard is set up when the guest comes up; a run asks again (the self-test, another client may have changed it).
    this.traced = (await this.target.channel.request(traceCommand())) as TraceReply;
    this.measurements.tracing = this.traced;
    const mk = await this.exec(['/bin/busybox', 'mkdir', '-p', `/mnt/dax/${this.instance}`, `/tmp/daxlab/${this.instance}`]);
    if (mk.status !== 0) throw new Error(`cannot make the run's directories: ${mk.stderr}`);
    const lbt = await this.exec(['/bin/busybox', 'cat', '/proc/sys/fs/lease-break-time']);
    this.vars = { 'lease-break-time': Number(lbt.stdout.trim()) };

    if (s.needs.nullBlk) {
      const why = await ensureNullBlk(this.shell, parseScenarioDuration(s.needs.nullBlk.completion) * 1e6);
      this.available.nullBlk = why === null;
      if (why) {
        this.cannotTest = `null_blk: ${why}`;
        return;
      }
    }
    if (s.needs.rdma) {
      const why = await ensureRdma(this.shell);
      this.available.rdma = why === null;
      if (why) {
        this.measurements.rdma = why;
        if (s.needs.rdma === 'required') {
          this.cannotTest = `soft-RoCE: ${why}`;
          return;
        }
        this.log(`soft-RoCE unavailable (${why}): the RDMA steps will not apply`);
      }
    }
    for (const a of s.actors) {
      const program = a.program === 'verbs' && this.available.rdma ? 'verbs' : 'agent';
      const started = (await this.driver.startActor(a.name, program)) as { pid: number };
      this.pids[a.name] = started.pid;
    }
  }

  // -------------------------------------------------------------------------------------
  // Steps.

  private conditions(): ConditionContext {
    return {
      fs: this.target.hello.mount.fstype,
      release: this.target.ready.release,
      available: this.available,
      busy: (actor) => this.isBusy(actor),
      succeeded: (id) => {
        const a = this.stepAction(id);
        return !!a && a.end !== null && !a.error && !a.signal;
      },
      failed: (id) => {
        const a = this.stepAction(id);
        return !!a && a.end !== null && !!a.error && !a.signal;
      },
    };
  }

  private isBusy(actor: string): boolean {
    const started = this.lastStarted.get(actor);
    if (!started) return false;
    const rec = this.state.actions.find((a) => a.id === started.id);
    return !rec || rec.end === null;
  }

  private path(p: string): string {
    if (p === '$devdax') {
      if (!this.devdax) throw new Error('$devdax: this profile has no devdax namespace');
      return `/dev/${this.devdax}`;
    }
    if (p.startsWith('$tmp/')) return `/tmp/daxlab/${this.instance}/${p.slice(5)}`;
    if (p === '$nullb') return '/dev/nullb0';
    if (p.startsWith('/')) return p;
    return `${this.instance}/${p}`;
  }

  /** A scenario op (sizes as written) as the wire op. */
  private toOp(op: ScenarioOp): ActorOp {
    return toWireOp(op, { path: (p) => this.path(p), size: parseSize, duration: (v) => parseScenarioDuration(v, this.vars) });
  }

  private async sample(): Promise<void> {
    await this.driver.sample();
  }

  /** /proc/vmstat folded from the per-CPU deltas now (vm.stat_refresh), then a snapshot. */
  private async settledSample(): Promise<void> {
    await this.exec(['/bin/busybox', 'sysctl', '-q', '-w', 'vm.stat_refresh=1']);
    await this.sample();
  }

  private stepAction(stepId: string): ActionRecord | null {
    const info = this.steps.get(stepId);
    if (info?.actionId == null) return null;
    return this.state.actions.find((a) => a.id === info.actionId) ?? { id: info.actionId, actor: info.actor!, op: '?', start: null, end: null };
  }

  private subject(actor: string): ActionRecord | null {
    const started = this.lastStarted.get(actor);
    if (!started) return this.state.actors[actor]?.lastAction ?? null;
    return this.state.actions.find((a) => a.id === started.id) ?? { id: started.id, actor, op: started.op, start: null, end: null };
  }

  private evalContext(stepId: string, start: number): EvalContext {
    return {
      state: this.state,
      now: this.now,
      start,
      stepStart: this.steps.get(stepId)?.start ?? start,
      stepBegan: (id) => this.steps.get(id)?.start ?? null,
      stepId,
      stepAction: (id) => this.stepAction(id),
      stepEnd: (id) => {
        const info = this.steps.get(id);
        if (!info) return null;
        if (info.actionId !== null) return this.stepAction(id)?.end ?? null;
        return info.end;
      },
      before: (id) => this.steps.get(id)?.before,
      subject: (actor) => this.subject(actor),
      vars: this.vars,
      dataChecks: this.dataChecks,
      conditions: this.conditions(),
      observability: (name) => eventObservability(name, this.traced),
    };
  }

  /** How long (host time) a predicate may stay pending. */
  private capMs(p: Predicate): number {
    const d = (v: string | number | undefined) => (v === undefined ? 0 : parseScenarioDuration(v, this.vars));
    switch (p.check) {
      case 'blocked':
      case 'signal':
        return d(p.within) + SLACK_MS;
      case 'still-blocked':
        return d(p.for) + SLACK_MS;
      case 'finishes':
        return d(p.idleWithin ?? '60s') + d(p.within) + SLACK_MS;
      case 'returns':
        return parseScenarioDuration(ACTION_TIMEOUT) * 4 + SLACK_MS;
      case 'lease':
      case 'event':
        return d(p.within) + SLACK_MS;
      default:
        return SLACK_MS;
    }
  }

  /** Evaluate until the outcome is known; the hang detector runs meanwhile. */
  private async evaluateUntil(p: Predicate, stepId: string): Promise<Outcome> {
    if (p.check === 'vmstat') await this.settledSample();
    else await this.sample();
    const start = this.now;
    const deadline = Date.now() + this.capMs(p);
    for (;;) {
      const o = evaluate(p, this.evalContext(stepId, start));
      if (o.status !== 'pending') return o;
      if (this.hangWatch()) return { status: 'not-applicable', detail: `the run stopped: ${this.stopped!.why}`, evidence: {} };
      if (Date.now() > deadline) {
        return { status: 'not-applicable', detail: `undecided after ${this.capMs(p)} ms of host time: the guest clock did not advance (no snapshots?)`, evidence: contextEvidence(this.state, this.actorNames, start) };
      }
      await sleep(40);
    }
  }

  /** A precondition: poll (with fresh snapshots) until it holds or the timeout passes. */
  private async waitUntil(p: Predicate, timeoutMs: number, stepId: string): Promise<Outcome> {
    const start = this.now;
    const deadline = Date.now() + timeoutMs + SLACK_MS;
    let last: Outcome = { status: 'pending' };
    for (;;) {
      await this.sample();
      last = evaluate(p, this.evalContext(stepId, start));
      if (last.status === 'held' || last.status === 'not-applicable') return last;
      if (this.hangWatch()) return { status: 'not-applicable', detail: `the run stopped: ${this.stopped!.why}`, evidence: {} };
      if (this.now - start > timeoutMs / 1000 || Date.now() > deadline) return last.status === 'pending' ? { status: 'violated', detail: 'it did not happen in time', evidence: {} } : last;
      await sleep(50);
    }
  }

  /**
   * Who writes the watched pages' refcounts (a hardware watchpoint each, at most four
   * pages) and whether the wake-up ran: evidence, never a precondition. A kernel or
   * agent that cannot arm it says why in the report.
   */
  private async armRefWatch(label: string, pages: number[]): Promise<void> {
    const more = pages.map((index) => ({ label, index })).filter((p) => !this.refWatched.some((q) => q.label === p.label && q.index === p.index));
    if (!more.length || this.refWatched.length >= 4) return;
    this.refWatched = [...this.refWatched, ...more].slice(0, 4);
    try {
      this.refWatch = { reply: (await this.driver.refWatch(this.refWatched)) as RefWatchReply, error: null };
    } catch (err) {
      this.refWatch = { reply: null, error: (err as Error).message };
    }
    this.measurements.refWatch = this.refWatch;
  }

  /** The put path of every armed page, as far as the events show it now. */
  private putPaths(): PutPath[] {
    if (!this.refWatch) return [];
    return this.refWatched.map((p) => putPath(this.state, `${p.label}#${p.index}`, this.refWatch));
  }

  private verdict(v: Omit<Verdict, 't'>): void {
    const full: Verdict = { ...v, t: this.now };
    if (full.status === 'violated') {
      full.evidence = { ...full.evidence, context: contextEvidence(this.state, this.actorNames, this.runStart) };
      // A task not woken after a page came back to idle: name the put that did it.
      const paths = v.check === 'finishes' ? this.putPaths().filter((p) => p.release) : [];
      if (paths.length) {
        full.evidence.putPath = paths;
        full.detail = `${full.detail}; put path: ${paths.map((p) => `${p.text} (cross-check: ${p.crossCheck.text})`).join('; ')}`;
      }
      this.findings.push({ expectation: full.id, summary: `${full.description}: ${full.detail}`, evidence: full.evidence });
    }
    this.verdicts.push(full);
    const mark = full.status === 'held' ? 'held    ' : full.status === 'violated' ? 'VIOLATED' : 'n/a     ';
    this.log(`    ${mark} ${full.precondition ? '(precondition) ' : ''}${full.description} — ${full.detail}`);
    this.emit({ kind: 'verdict', verdict: full });
    if (full.status === 'violated') this.emit({ kind: 'finding', finding: this.findings.at(-1)! });
  }

  private notApplicable(step: Step, index: number, stepId: string, why: string): void {
    const w = step.waitFor?.until;
    if (w) this.verdict({ id: w.id ?? `${stepId}.wait`, step: index + 1, stepId, check: w.check, description: `wait until ${describe(w)}`, status: 'not-applicable', detail: why, evidence: {}, precondition: true });
    step.expect?.forEach((p, k) =>
      this.verdict({ id: p.id ?? `${stepId}.${k + 1}`, step: index + 1, stepId, check: p.check, description: describe(p, { actor: step.actor, op: step.do?.op }), status: 'not-applicable', detail: why, evidence: {} }),
    );
  }

  private async runStep(step: Step, index: number): Promise<void> {
    const stepId = step.id ?? `step-${index + 1}`;
    const info: StepInfo = { index, actionId: null, actor: step.actor ?? null, start: this.now, end: null, before: undefined };
    this.steps.set(stepId, info);
    const record: StepRecord = { step: index + 1, id: stepId, say: step.say, status: 'ran', start: null, end: null, ...(step.actor ? { actor: step.actor } : {}), ...(step.do ? { op: step.do.op } : {}) };
    this.stepRecords.push(record);
    if (this.stopped) {
      record.status = 'not-reached';
      record.reason = this.stopped.why;
      this.notApplicable(step, index, stepId, `not reached: ${this.stopped.why}`);
      return;
    }
    const cond = conditionHolds(step.when, this.conditions());
    if (!cond.holds) {
      record.status = 'skipped';
      record.reason = cond.why;
      this.log(`[${index + 1}] skipped (${cond.why}): ${step.say}`);
      this.emit({ kind: 'step-started', index, stepId, skipped: true });
      this.notApplicable(step, index, stepId, `step skipped: ${cond.why}`);
      return;
    }
    this.log(`[${index + 1}] ${step.say}`);
    this.emit({ kind: 'step-started', index, stepId, skipped: false });
    const needsVmstat = !!step.record || (step.expect ?? []).some((p) => p.check === 'vmstat');
    const needsBefore = needsVmstat || (step.expect ?? []).some((p) => p.check === 'page' && (p.rose || p.pinsRose));
    if (needsVmstat) await this.settledSample();
    else if (needsBefore) await this.sample();
    info.before = this.state;
    info.start = this.now;
    record.start = info.start;

    if (step.kill) {
      try {
        await this.target.channel.request({ cmd: 'actor-kill', actor: step.kill.actor, signal: step.kill.signal });
      } catch (err) {
        if (!(err instanceof AgentError)) throw err;
        this.stop('precondition', `step ${index + 1} (${stepId}): cannot signal ${step.kill.actor}: ${err.message}`);
      }
      // The guest time of the signal: the agent's latest message when it replied.
      info.end = this.now;
      await this.sample();
    }
    if (step.do && !this.halted()) {
      let started: { id: number } | null = null;
      try {
        started = await this.driver.start(step.actor!, this.toOp(step.do));
      } catch (err) {
        // The agent refused: the actor died (a signal the kernel sent it?) or the op is not known.
        if (!(err instanceof AgentError)) throw err;
        this.stop('precondition', `step ${index + 1} (${stepId}): ${step.actor} cannot run ${step.do.op}: ${err.message}`);
      }
      if (started) {
        info.actionId = started.id;
        this.lastStarted.set(step.actor!, { id: started.id, op: step.do.op });
        if (!step.async) await this.awaitAction(step, index, stepId, started.id);
      }
    }
    const halted = this.halted();
    if (halted) {
      record.reason = halted;
      this.notApplicable(step, index, stepId, `not reached: ${halted}`);
      return;
    }
    if (step.watch) {
      const who = step.watch.actor ?? step.actor!;
      try {
        await this.driver.watchPages(who, step.watch.pages, step.watch.label);
        await this.armRefWatch(step.watch.label, step.watch.pages);
      } catch (err) {
        this.stop('precondition', `watching ${step.watch.label} pages ${step.watch.pages.join(',')} of ${who} failed: ${(err as Error).message}`);
        this.verdict({ id: `${stepId}.watch`, step: index + 1, stepId, check: 'watch', description: `watch ${step.watch.label}`, status: 'not-applicable', detail: this.stopped!.why, evidence: {}, precondition: true });
        this.notApplicable({ ...step, waitFor: undefined }, index, stepId, `not reached: ${this.stopped!.why}`);
        return;
      }
    }
    if (step.waitFor) {
      const o = await this.waitUntil(step.waitFor.until, parseScenarioDuration(step.waitFor.timeout, this.vars), stepId);
      const held = o.status === 'held';
      const detail = o.status === 'pending' ? 'pending' : o.detail;
      this.verdict({
        id: step.waitFor.until.id ?? `${stepId}.wait`,
        step: index + 1,
        stepId,
        check: step.waitFor.until.check,
        description: `wait until ${describe(step.waitFor.until)} (at most ${typeof step.waitFor.timeout === 'number' ? `${step.waitFor.timeout} ms` : step.waitFor.timeout})`,
        status: held ? 'held' : 'not-applicable',
        detail: held ? detail : `precondition not met: ${detail}`,
        evidence: o.status === 'pending' ? {} : o.evidence,
        precondition: true,
      });
      if (!held) {
        this.stop('precondition', `step ${index + 1} (${stepId}): ${describe(step.waitFor.until)} did not come about: ${detail}`);
        this.notApplicable({ ...step, waitFor: undefined }, index, stepId, `not reached: ${this.stopped!.why}`);
        return;
      }
    }
    if (step.race && !this.halted()) {
      try {
        await this.runRace(step.race, index, stepId);
      } catch (err) {
        if (!(err instanceof AgentError) && !/race set-up|did not finish within/.test((err as Error).message)) throw err;
        this.stop('precondition', `step ${index + 1} (${stepId}): the race could not run: ${(err as Error).message}`);
      }
    }
    for (const [k, p] of (step.expect ?? []).entries()) {
      const id = p.id ?? `${stepId}.${k + 1}`;
      const halted = this.halted();
      if (halted) {
        this.verdict({ id, step: index + 1, stepId, check: p.check, description: describe(p, { actor: step.actor, op: step.do?.op }), status: 'not-applicable', detail: `not reached: ${halted}`, evidence: {} });
        continue;
      }
      const o = await this.evaluateUntil(p, stepId);
      if (o.status === 'pending') continue;
      this.verdict({ id, step: index + 1, stepId, check: p.check, description: describe(p, { actor: step.actor, op: step.do?.op }), status: o.status, detail: o.detail, evidence: o.evidence });
    }
    if (step.record && !this.halted()) await this.recordCell(step, stepId);
    const action = this.stepAction(stepId);
    info.end ??= action?.end ?? this.now;
    record.end = info.end;
    if (action) record.action = action.end === null ? null : { ret: action.ret, error: action.error, signal: action.signal, ms: action.ms, result: action.result };
  }

  private async awaitAction(step: Step, index: number, stepId: string, actionId: number): Promise<void> {
    const limitMs = parseScenarioDuration(step.timeout ?? ACTION_TIMEOUT, this.vars);
    const deadline = Date.now() + limitMs;
    for (;;) {
      const rec = this.state.actions.find((a) => a.id === actionId);
      if (rec?.end != null) {
        this.steps.get(stepId)!.end = rec.end;
        return;
      }
      if (this.hangWatch()) return;
      if (Date.now() > deadline) {
        await this.sample();
        this.verdict({
          id: `${stepId}.returns`,
          step: index + 1,
          stepId,
          check: 'returns',
          description: `${step.actor}'s ${step.do!.op} returns within ${typeof (step.timeout ?? ACTION_TIMEOUT) === 'number' ? `${step.timeout} ms` : (step.timeout ?? ACTION_TIMEOUT)}`,
          status: 'violated',
          detail: `it had not returned after ${limitMs} ms`,
          evidence: {},
        });
        this.stop('hang', `${step.actor}'s ${step.do!.op} did not return`);
        return;
      }
      await sleep(20);
    }
  }

  /** Why the run stopped, or null (a method: TypeScript does not narrow fields across awaits). */
  private halted(): string | null {
    return this.stopped?.why ?? null;
  }

  private stop(kind: 'precondition' | 'hang', why: string): void {
    this.stopped ??= { kind, why };
  }

  // -------------------------------------------------------------------------------------
  // The hang detector.

  private hangFound = false;

  /** Check for a hung task; true when the run has been stopped. */
  private hangWatch(): boolean {
    this.noteBlocked();
    const h = this.scenario.hangDetector;
    if (h && !this.hangFound) {
      const limit = parseScenarioDuration(h.blockedLongerThan, this.vars);
      const hung = hangCheck(this.state, limit, this.actorNames);
      if (hung) {
        this.hangFound = true;
        const task = this.state.actors[hung.actor]?.task;
        this.hangVerdict(
          'violated',
          `${hung.actor} has been asleep inside its ${this.subject(hung.actor)?.op ?? 'action'} for ${hung.blockedMs} ms (${task?.state} in ${task?.stack[0] ?? '?'})`,
          { hung: hung.actor, blockedMs: hung.blockedMs, stacks: Object.fromEntries(this.actorNames.map((a) => [a, this.state.actors[a]?.task?.stack ?? []])) },
        );
        this.stop('hang', `${hung.actor} hung (${hung.blockedMs} ms asleep)`);
      }
    }
    return this.stopped?.kind === 'hang';
  }

  private finishHangDetector(): void {
    const h = this.scenario.hangDetector;
    if (!h || this.hangFound) return;
    this.noteBlocked();
    const longest = Math.max(0, ...this.maxBlocked.values());
    this.hangVerdict(
      this.stopped ? 'not-applicable' : 'held',
      this.stopped ? `the run stopped early: ${this.stopped.why}` : `the longest sleep inside an action was ${longest} ms`,
      { longestBlockedMs: longest },
    );
  }

  /** The hang detector's one verdict: the same id and words whether it fired or held. */
  private hangVerdict(status: Status, detail: string, evidence: Record<string, unknown>): void {
    this.verdict({ id: 'no-hang', step: null, stepId: null, check: 'hang-detector', description: hangDescription(this.scenario.hangDetector!.blockedLongerThan), status, detail, evidence });
  }

  /** The longest blockedMs seen per actor (kept as snapshots go by). */
  private readonly maxBlocked = new Map<string, number>();
  private noteBlocked(): void {
    for (const name of this.actorNames) {
      const ms = this.state.actors[name]?.task?.blockedMs ?? 0;
      if (ms > (this.maxBlocked.get(name) ?? 0)) this.maxBlocked.set(name, ms);
    }
  }

  // -------------------------------------------------------------------------------------
  // Tables (pin accounting).

  private async recordCell(step: Step, stepId: string): Promise<void> {
    const r = step.record!;
    await this.settledSample();
    const before = this.steps.get(stepId)!.before;
    const prior = before?.pages[r.page];
    const now = this.state.pages[r.page];
    const action = this.stepAction(stepId);
    const cell = tableCell(action, prior, now, before?.vmstat.latest ?? {}, this.state.vmstat.latest);
    const table = (this.tables[r.table] ??= { rows: [], columns: [], cells: {} });
    if (!table.rows.includes(r.row)) table.rows.push(r.row);
    if (!table.columns.includes(r.column)) table.columns.push(r.column);
    ((table.cells[r.row] ??= {})[r.column] ??= {})[r.phase] = cell;
    this.log(`    ${r.table}[${r.row}][${r.column}] ${r.phase}: ${JSON.stringify(cell)}`);
  }

  // -------------------------------------------------------------------------------------
  // Races.

  private async runRace(race: Race, index: number, stepId: string): Promise<void> {
    const rand = prng(this.seed);
    const PAGE = 4096;
    const faulters = [...race.writers, ...race.readers, ...race.holeReaders];
    const file = this.path(race.file);
    const counts = { rounds: 0, ops: 0, sigbus: 0, zero: 0, torn: 0, mutations: { truncate: 0, punch: 0, extend: 0 } as Record<string, number> };
    this.measurements.race = counts;
    const must = async (actor: string, op: ActorOp) => {
      const end = await this.driver.act(actor, op, 60_000);
      if (end.error || end.signal) throw new Error(`race set-up: ${actor} ${op.op} failed: ${end.error ?? end.signal}`);
      return end;
    };
    // Set-up: the file at its largest size, every page with the round-0 pattern.
    let shadow: Shadow = initialShadow(race, this.seed);
    await must(race.mutator, { op: 'open', path: file, create: true, size: race.pages * PAGE });
    for (const a of faulters) {
      await must(a, { op: 'open', path: file });
      await must(a, { op: 'mmap', length: race.pages * PAGE, flags: ['MAP_SHARED'] });
    }
    const all = Array.from({ length: race.pages }, (_, p) => p);
    await must(race.writers[0]!, { op: 'pattern_write', pages: all, tags: shadow.tags });
    await this.driver.watchPages(race.writers[0]!, [0], race.file.replace(/[^A-Za-z0-9_.-]/g, '_'));
    this.log(`    race: ${race.rounds} rounds on ${race.pages} pages, seed ${this.seed}`);

    for (let round = 1; round <= race.rounds; round++) {
      const plan: RoundPlan = planRound(race, shadow, round, rand, this.seed);
      const pending: Array<{ actor: string; end: Promise<import('./driver.js').ActionEnd> }> = [];
      if (plan.mutation) {
        const s = await this.driver.start(race.mutator, mutationOp(plan.mutation, PAGE));
        this.lastStarted.set(race.mutator, { id: s.id, op: plan.mutation.kind });
        pending.push({ actor: race.mutator, end: s.end });
        counts.mutations[plan.mutation.kind]!++;
      }
      for (const op of plan.ops) {
        const wire: ActorOp = op.role === 'writer' ? { op: 'pattern_write', pages: op.pages, tags: op.tags! } : { op: 'pattern_check', pages: op.pages };
        const s = await this.driver.start(op.actor, wire);
        this.lastStarted.set(op.actor, { id: s.id, op: wire.op });
        pending.push({ actor: op.actor, end: s.end });
      }
      counts.ops += pending.length;
      const ends = new Map<string, import('./driver.js').ActionEnd>();
      for (const p of pending) void p.end.then((e) => ends.set(p.actor, e));
      // Wait for the round, with the hang detector watching.
      const limit = Date.now() + 120_000;
      while (ends.size < pending.length) {
        this.noteBlocked();
        if (this.hangWatch()) break;
        if (Date.now() > limit) {
          this.stop('hang', `race round ${round} did not complete in 120 s`);
          break;
        }
        await sleep(10);
      }
      if (this.stopped) break;
      const written = new Map<number, number>();
      const results = new Map<string, { tags?: number[]; faults?: Array<{ page: number; signal: string }> }>();
      for (const op of plan.ops) {
        const e = ends.get(op.actor)!;
        const res = (e.result ?? {}) as { tags?: number[]; faults?: Array<{ page: number; signal: string }> };
        results.set(op.actor, res);
        if (op.role === 'writer') {
          const failed = new Set((res.faults ?? []).map((f) => f.page));
          op.pages.forEach((p, i) => !failed.has(p) && written.set(p, op.tags![i]!));
        }
        for (const t of res.tags ?? []) {
          if (t === -2) counts.sigbus++;
          else if (t === 0) counts.zero++;
          else if (t >= 2 ** 32) counts.torn++;
        }
      }
      const m = plan.mutation ? ends.get(race.mutator) : undefined;
      if (m && (m.error || m.signal)) {
        this.verdict({ id: `${stepId}.round-${round}`, step: index + 1, stepId, check: 'returns', description: `the mutator's ${plan.mutation!.kind} succeeds`, status: 'violated', detail: `${m.op} failed: ${m.error ?? m.signal}`, evidence: { action: m } });
      }
      const after = applyRound(shadow, plan, written);
      this.dataChecks.push(...checkRound(plan, shadow, after, results));
      shadow = after;
      counts.rounds = round;
    }
    if (!this.stopped) {
      // fsx's last word: read(2) every page and compare with the shadow.
      const final = await must(race.mutator, { op: 'pattern_check', pages: all, via: 'read' });
      this.dataChecks.push(...checkFinal(shadow, all, (final.result?.tags as number[]) ?? [], race.rounds + 1, race.mutator));
      this.measurements.shadow = { size: shadow.size, tags: shadow.tags };
    }
    this.noteBlocked();
    const bad = this.dataChecks.filter((c) => !c.ok).length;
    this.log(`    race: ${counts.rounds} rounds, ${counts.ops} ops, ${counts.sigbus} SIGBUS, ${counts.zero} zero pages read, ${counts.torn} torn reads, ${bad} mismatches`);
  }

  // -------------------------------------------------------------------------------------
  // Cleanup: whatever happened, end every actor and leave the guest as we found it.

  private async cleanup(): Promise<ScenarioReport['cleanup']> {
    const out: ScenarioReport['cleanup'] = { killed: [], stuck: [], guestReusable: true, notes: [] };
    if (this.target.channel.closed) {
      out.guestReusable = false;
      out.notes.push('the agent channel is closed');
      return out;
    }
    try {
      this.noteBlocked();
      const alive = this.actorNames.filter((a) => this.state.actors[a] !== undefined && !this.state.actors[a]!.exit);
      for (const a of alive) {
        try {
          // Killed inside an action: worth saying (a task the run left asleep, a hang).
          const busy = this.isBusy(a);
          await this.target.channel.request({ cmd: 'actor-kill', actor: a, signal: 'SIGKILL' }, 10_000);
          if (busy) out.killed.push(a);
        } catch (err) {
          if (!/dead/.test((err as Error).message)) out.notes.push(`killing ${a}: ${(err as Error).message}`);
        }
      }
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && alive.some((a) => !this.state.actors[a]?.exit)) await sleep(50);
      out.stuck = alive.filter((a) => !this.state.actors[a]?.exit);
      if (out.stuck.length) {
        out.guestReusable = false;
        await this.sample().catch(() => {});
        this.verdict({
          id: 'actors-end',
          step: null,
          stepId: null,
          check: 'cleanup',
          description: 'every actor can be ended with SIGKILL at the end of the run',
          status: 'violated',
          detail: `${out.stuck.join(', ')} did not die within 15 s of SIGKILL`,
          evidence: { stacks: Object.fromEntries(out.stuck.map((a) => [a, this.state.actors[a]?.task?.stack ?? []])) },
        });
      }
      if (this.refWatched.length) await this.driver.refWatch([]).catch((err: Error) => out.notes.push(`disarming the refcount watchpoints: ${err.message}`));
      await this.target.channel.request({ cmd: 'unwatch' }, 10_000);
      const rm = await this.exec(['/bin/busybox', 'rm', '-rf', `/mnt/dax/${this.instance}`, `/tmp/daxlab/${this.instance}`], 20_000);
      if (rm.status !== 0) {
        out.guestReusable = false;
        out.notes.push(`removing the run's files failed (${rm.status}): ${rm.stderr.trim()}`);
      }
      await this.target.channel.request({ cmd: 'observe', hz: 0 }, 10_000);
    } catch (err) {
      out.guestReusable = false;
      out.notes.push(`cleanup: ${(err as Error).message}`);
    }
    return out;
  }
}

/** Run a scenario on a booted guest. Throws only for our own bugs; the kernel's misdeeds are verdicts. */
export async function runScenario(target: LabTarget, scenario: Scenario, opts: RunOptions = {}): Promise<ScenarioReport> {
  return new Run(target, scenario, opts).run();
}

/** The hang detector's verdict says the same words whether it fired or held. */
function hangDescription(limit: number | string): string {
  return `no task blocked longer than ${typeof limit === 'number' ? `${limit} ms` : limit}`;
}
