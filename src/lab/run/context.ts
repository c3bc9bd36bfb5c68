// One scenario run's state, shared by the modules that run it (preparation, steps, polling,
// the hang detector, the race runner, clean-up, the report): the fold of every message
// (state.ts), the steps and actions started, the verdicts and findings, and why the run
// stopped. The helpers here are what more than one of those modules needs: paths and ops
// in the guest's terms, snapshots, the evaluation context, recording a verdict.
import { LabDriver } from '../driver.js';
import { eventObservability, type TraceReply } from '../era.js';
import { putPath, type PutPath, type RefWatchReply, type RefWatchStatus } from '../putpath.js';
import type { GuestShell } from '../guestPrep.js';
import type { Table } from '../tables.js';
import { toWireOp } from '../../wire/ops.js';
import { namesPut } from '../checks/index.js';
import { contextEvidence, type DataCheck, type EvalContext } from '../expect.js';
import type { ActorOp, HostMessage } from '../../wire/protocol.js';
import { followChannel, type RunFeed } from '../../wire/transcript.js';
import type { AVAILABLE, ConditionContext, Scenario, ScenarioOp } from '../scenario.js';
import { initialState, reduceMany, type ActionRecord, type LabState } from '../state.js';
import { parseScenarioDuration, parseSize, type DurationVars } from '../../config/units.js';
import { HangDetector } from './hang.js';
import type { Finding, LabTarget, RunEvent, RunOptions, StepRecord, Verdict } from './types.js';

let instances = 0;

export type StepInfo = { index: number; actionId: number | null; actor: string | null; start: number; end: number | null; before: LabState | undefined };

export class RunContext {
  private folded: LabState = initialState({ events: 5000, actions: 2000 });
  /** Dispatched, not folded yet: folded in one batch when the state is read (reduceMany). */
  private pending: HostMessage[] = [];

  /** Every message dispatched so far, folded (a flood of events costs one copy of the event list per read, not one per event). */
  get state(): LabState {
    if (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      this.folded = reduceMany(this.folded, batch);
    }
    return this.folded;
  }
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
  readonly lastStarted = new Map<string, { id: number; op: string }>();
  stopped: { why: string; kind: 'precondition' | 'hang' } | null = null;
  cannotTest: string | null = null;
  /** The first mistake of the scenario's the run met (an action refused because the scenario is wrong): 125, whatever else. */
  scenarioMistake: string | null = null;
  /** Steps whose action's outcome was judged (run/actionFailure.ts). */
  readonly judged = new Set<string>();
  vars: DurationVars = { 'lease-break-time': NaN };
  idleBaseline: number | null = null;
  devdaxIdle: number | null = null;
  /** What tracing this run got: the tracepoints and kprobes placed, and those that could not be. */
  traced: TraceReply | null = null;
  /** The refcount watchpoints (putpath.ts): the pages asked for, and what the agent armed. */
  refWatched: Array<{ label: string; index: number }> = [];
  refWatch: RefWatchStatus | undefined;
  readonly instance: string;
  readonly actorNames: string[];
  readonly seed: number;
  devdax: string | null = null;
  runStart = 0;
  readonly pids: Record<string, number> = {};
  readonly hang: HangDetector;

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
    this.hang = new HangDetector(this);
  }

  log(line: string): void {
    this.opts.log?.(line);
  }

  emit(event: RunEvent): void {
    this.opts.onEvent?.(event);
  }

  get now(): number {
    return this.state.lastT ?? 0;
  }

  private dispatch = (m: HostMessage) => {
    this.pending.push(m);
    // Nobody read the state for a while: fold, so the queue stays short.
    if (this.pending.length >= 4096) void this.state;
  };

  /** Fold every message from now on. */
  follow(): void {
    this.feed = followChannel(this.target.channel, { dispatch: this.dispatch });
  }

  /** Stop folding and listening (the run is over). */
  detach(): void {
    this.feed?.detach();
    this.driver.close();
  }

  async exec(argv: string[], timeoutMs = 30_000) {
    return this.driver.exec(argv, timeoutMs);
  }

  readonly shell: GuestShell = { exec: (argv, timeoutMs) => this.exec(argv, timeoutMs), log: (line) => this.log(line) };

  conditions(): ConditionContext {
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

  isBusy(actor: string): boolean {
    const started = this.lastStarted.get(actor);
    if (!started) return false;
    const rec = this.state.actions.find((a) => a.id === started.id);
    return !rec || rec.end === null;
  }

  path(p: string): string {
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
  toOp(op: ScenarioOp): ActorOp {
    return toWireOp(op, { path: (p) => this.path(p), size: parseSize, duration: (v) => parseScenarioDuration(v, this.vars) });
  }

  async sample(): Promise<void> {
    await this.driver.sample();
  }

  /** /proc/vmstat folded from the per-CPU deltas now (vm.stat_refresh), then a snapshot. */
  async settledSample(): Promise<void> {
    await this.exec(['/bin/busybox', 'sysctl', '-q', '-w', 'vm.stat_refresh=1']);
    await this.sample();
  }

  stepAction(stepId: string): ActionRecord | null {
    const info = this.steps.get(stepId);
    if (info?.actionId == null) return null;
    return this.state.actions.find((a) => a.id === info.actionId) ?? { id: info.actionId, actor: info.actor!, op: '?', start: null, end: null };
  }

  subject(actor: string): ActionRecord | null {
    const started = this.lastStarted.get(actor);
    if (!started) return this.state.actors[actor]?.lastAction ?? null;
    return this.state.actions.find((a) => a.id === started.id) ?? { id: started.id, actor, op: started.op, start: null, end: null };
  }

  evalContext(stepId: string, start: number): EvalContext {
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

  /**
   * Who writes the watched pages' refcounts (a hardware watchpoint each, at most four
   * pages) and whether the wake-up ran: evidence, never a precondition. A kernel or
   * agent that cannot arm it says why in the report.
   */
  async armRefWatch(label: string, pages: number[]): Promise<void> {
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
  putPaths(): PutPath[] {
    if (!this.refWatch) return [];
    return this.refWatched.map((p) => putPath(this.state, `${p.label}#${p.index}`, this.refWatch));
  }

  verdict(v: Omit<Verdict, 't'>): void {
    const full: Verdict = { ...v, t: this.now };
    // A task woken or not after a page came back to idle: name the put that did it, on the
    // kernel that wakes too, so that a compare shows both paths side by side.
    const paths = full.status !== 'not-applicable' && namesPut(v.check) ? this.putPaths().filter((p) => p.release) : [];
    if (paths.length) {
      full.evidence = { ...full.evidence, putPath: paths };
      full.detail = `${full.detail}; put path: ${paths.map((p) => `${p.text} (cross-check: ${p.crossCheck.text})`).join('; ')}`;
    }
    if (full.status === 'violated') {
      full.evidence = { ...full.evidence, context: contextEvidence(this.state, this.actorNames, this.runStart) };
      this.findings.push({ expectation: full.id, summary: `${full.description}: ${full.detail}`, evidence: full.evidence });
    }
    this.verdicts.push(full);
    const mark = full.status === 'held' ? 'held    ' : full.status === 'violated' ? 'VIOLATED' : 'n/a     ';
    this.log(`    ${mark} ${full.precondition ? '(precondition) ' : ''}${full.description} — ${full.detail}`);
    this.emit({ kind: 'verdict', verdict: full });
    if (full.status === 'violated') this.emit({ kind: 'finding', finding: this.findings.at(-1)! });
  }

  /** Why the run stopped, or null (a method: TypeScript does not narrow fields across awaits). */
  halted(): string | null {
    return this.stopped?.why ?? null;
  }

  stop(kind: 'precondition' | 'hang', why: string): void {
    this.stopped ??= { kind, why };
  }

  /** The scenario is wrong (not the kernel): the run could not test, and it stops here. */
  mistake(why: string): void {
    this.scenarioMistake ??= why;
    this.stop('precondition', why);
  }
}
