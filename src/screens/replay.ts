// The replay controller: a recorded transcript fed into the same store at its recorded
// pace (times `speed`), pausable and steppable. When the run's record (lab-run.json) is
// next to the transcript, the same expectations are evaluated again over the replayed
// state; otherwise the dashboard shows the state and the timeline only.
import type { TraceReply } from '../lab/era.js';
import fs from 'node:fs';
import { replayTranscript, type Replay } from '../wire/transcript.js';
import type { HostMessage } from '../wire/protocol.js';
import type { ScenarioReport } from '../lab/engine.js';
import { BaseController, runRecordPath, type RunRecord } from './controller.js';
import { builtinScenarios } from '../lab/scenarios/index.js';
import { engineExpectations, engineScenarioInfo, findingView, verdictView } from './engineRun.js';
import type { ExpectationView, LabController } from './model.js';
import { LabStore, type Timers } from './store.js';
import { stepShape } from '../lab/timeline.js';

/** The expectations of a recorded engine run, pending until the replay reaches their time. */
function recordedExpectations(report: ScenarioReport): ExpectationView[] {
  return report.expectations.map((v) => ({ id: v.id, description: v.description, status: 'pending' as const, ...(v.step === null ? {} : { step: v.step - 1 }) }));
}

export type ReplayOptions = {
  speed?: number;
  /** The report `daxlab run --json` printed for this run (default: the record next to the transcript). */
  report?: string;
  paused?: boolean;
  /** Injected for tests and the benchmark. */
  timers?: Timers;
  store?: LabStore;
  /** Replay a message list instead of a file (the benchmark's synthetic flood). */
  replay?: Replay;
};

export class ReplayController extends BaseController implements LabController {
  private readonly entries: Replay['entries'];
  private position = 0;
  private timer: unknown = null;
  private readonly timers: Timers;
  /** Host ms of the entry at which pacing (re)started, and the wall time then. */
  private anchor = { ms: 0, at: 0 };
  private onDone: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(
    readonly file: string,
    opts: ReplayOptions = {},
  ) {
    const replay = opts.replay ?? replayTranscript(file);
    super(
      {
        source: 'replay',
        boot: { profile: '', status: 'ready', stages: [], console: [] },
        run: null,
        transcript: file,
        replay: {
          speed: opts.speed ?? 1,
          paused: opts.paused ?? false,
          position: 0,
          total: replay.entries.length,
          done: replay.entries.length === 0,
          file,
          problems: replay.problems.map((p) => `line ${p.lineNo}: ${p.kind}: ${p.detail}`),
        },
      },
      opts.store ?? new LabStore(undefined, opts.timers ? { timers: opts.timers } : {}),
    );
    this.entries = replay.entries;
    this.timers = opts.timers ?? { now: () => performance.now(), setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.done = new Promise((resolve) => (this.onDone = resolve));
    // The position shown moves with the frames the store publishes, not with every message.
    this.store.subscribe(() => this.progress());
    this.loadRunRecord(opts.report);
    if (!this.view.replay!.paused) this.resume();
    if (this.view.replay!.done) this.finish();
  }

  private loadRunRecord(reportFile?: string): void {
    let record: RunRecord;
    if (reportFile) {
      // A headless run's report: the scenario it names gives the story and the steps.
      // Trimmed reports may name the scenario by its id alone and leave the steps out.
      const raw = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Omit<ScenarioReport, 'scenario'> & { scenario: ScenarioReport['scenario'] | string };
      const id = typeof raw.scenario === 'string' ? raw.scenario : raw.scenario?.id;
      const scenario = builtinScenarios.find((x) => x.id === id);
      if (!scenario || !Array.isArray(raw.expectations)) throw new Error(`${reportFile}: not a report of a built-in scenario (daxlab run --json prints one)`);
      // ...and an expectation by its id and status alone: the scenario has its words and step.
      const known = new Map(engineExpectations(scenario).map((e) => [e.id, e]));
      const expectations = raw.expectations.map((v) => {
        const k = known.get(v.id);
        return { ...v, description: v.description ?? k?.description ?? v.id, step: v.step ?? (k?.step === undefined ? null : k.step + 1), t: v.t ?? null, evidence: v.evidence ?? {} };
      });
      const report = {
        ...raw,
        scenario: { id: scenario.id, title: scenario.title, summary: scenario.summary, threads: scenario.threads, era: scenario.era },
        expectations,
        steps: raw.steps ?? [],
        findings: raw.findings ?? [],
      } as ScenarioReport;
      record = { scenario: scenario.id, guided: false, engine: report, info: engineScenarioInfo(scenario), status: 'finished' };
    } else {
      try {
        record = JSON.parse(fs.readFileSync(runRecordPath(this.file), 'utf8')) as RunRecord;
      } catch {
        return;
      }
    }
    // The verdicts appear at the guest time the engine reached them.
    const report = record.engine;
    // The probes as the run's trace set-up left them, with how often each fired.
    const tracing = report.measurements?.tracing as TraceReply | undefined;
    const hits = (report.measurements?.probeHits ?? {}) as Record<string, number>;
    if (tracing?.kprobeStatus)
      this.updateBoot({ probes: tracing.kprobeStatus.map((p) => ({ name: p.name, status: p.status, ...(p.why ? { why: p.why } : {}), ...(p.name in hits ? { hits: hits[p.name]! } : {}) })) });
    this.verdicts = report.expectations.map((v) => ({ t: v.t ?? Infinity, view: verdictView(v, v.step === null ? undefined : v.step - 1) }));
    // A skipped step has no start: it is passed on the way to the next one.
    this.stepStarts = report.steps.map((st) => st.start);
    for (let i = this.stepStarts.length - 2; i >= 0; i--) this.stepStarts[i] ??= this.stepStarts[i + 1]!;
    this.startRun(record.info, recordedExpectations(report), record.guided);
    this.engineReport = report;
    const scenario = builtinScenarios.find((x) => x.id === record.scenario);
    this.updateRun({ record: { run: report, steps: scenario ? scenario.steps.map(stepShape) : [] } });
  }

  /** Guest time each step of the recorded run began (null: skipped or not reached). */
  private stepStarts: Array<number | null> = [];

  /** An engine run's verdicts, each with the guest time it was reached. */
  private verdicts: Array<{ t: number; view: ExpectationView }> = [];
  private engineReport: ScenarioReport | null = null;

  private showVerdicts(t: number): void {
    const run = this.view.run;
    if (!run || !this.verdicts.length) return;
    const done = this.engineReport && this.position >= this.entries.length;
    const findings = done ? this.engineReport!.findings.map(findingView) : run.findings;
    const due = this.verdicts.filter((v) => v.t <= t).map((v) => v.view);
    this.mergeVerdicts(due, findings !== run.findings ? { findings, ...(done && this.engineReport!.tables ? { tables: this.engineReport!.tables } : {}) } : {});
  }

  private get speed(): number {
    return this.view.replay!.speed;
  }

  /** Feed every entry that is due at the current wall time, then sleep until the next one. */
  private pump = (): void => {
    this.timer = null;
    const now = this.timers.now();
    const dueMs = this.anchor.ms + (now - this.anchor.at) * this.speed;
    while (this.position < this.entries.length && this.entries[this.position]!.ms <= dueMs) this.feed(this.entries[this.position]!.message);
    if (this.position >= this.entries.length) return this.finish();
    const wait = (this.entries[this.position]!.ms - dueMs) / this.speed;
    this.timer = this.timers.setTimeout(this.pump, Math.max(0, Math.min(wait, 1000)));
  };

  private feed(message: HostMessage): void {
    this.store.dispatch(message);
    this.position++;
    this.trackStep(message);
    this.showVerdicts(message.t);
  }

  /** The run record's step times tell which step the replay is in; entering one marks its start. */
  private trackStep(message: HostMessage): void {
    const run = this.view.run;
    if (!run) return;
    let current = run.steps.length ? run.current : -1;
    const steps = [...run.steps];
    while (current + 1 < this.stepStarts.length && (this.stepStarts[current + 1] ?? Infinity) <= message.t) {
      current++;
      this.stepStart[current] = this.store.state;
      steps.push({ index: current, changes: [] });
    }
    if (steps.length !== run.steps.length) this.updateRun({ current, steps });
  }

  private progress(): void {
    if (this.view.replay!.position !== this.position) this.update({ replay: { ...this.view.replay!, position: this.position } });
  }

  private finish(): void {
    this.store.flush();
    this.reevaluate();
    this.showVerdicts(Infinity);
    this.update({ replay: { ...this.view.replay!, position: this.position, done: true } });
    if (this.view.run && this.view.run.status === 'running') this.updateRun({ status: 'finished', current: this.view.run.scenario.steps.length - 1 });
    this.onDone?.();
  }

  private resume(): void {
    // Pacing restarts from the last entry fed (or the first one) at the current wall time.
    const prev = this.position ? this.entries[this.position - 1] : this.entries[0];
    this.anchor = { ms: prev?.ms ?? 0, at: this.timers.now() };
    if (this.timer === null) this.pump();
  }

  setPaused(paused: boolean): void {
    if (this.view.replay!.done) return;
    if (paused && this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
    this.update({ replay: { ...this.view.replay!, paused } });
    if (!paused) this.resume();
  }

  /** While paused: feed up to and including the next snapshot (or action), then show it. */
  step(): void {
    if (!this.view.replay!.paused || this.position >= this.entries.length) return;
    while (this.position < this.entries.length) {
      const m = this.entries[this.position]!.message;
      this.feed(m);
      if (m.kind === 'snapshot' || m.kind === 'action') break;
    }
    this.store.flush();
    this.progress();
    if (this.position >= this.entries.length) this.finish();
  }

  setSpeed(speed: number): void {
    const clamped = Math.max(0.25, Math.min(1000, speed));
    this.update({ replay: { ...this.view.replay!, speed: clamped } });
    if (!this.view.replay!.paused && !this.view.replay!.done) {
      if (this.timer !== null) this.timers.clearTimeout(this.timer);
      this.timer = null;
      this.resume();
    }
  }

  /** Feed every message up to guest time `t` at once (tests; jumping in a paused replay). */
  runUntil(t: number): void {
    while (this.position < this.entries.length && this.entries[this.position]!.message.t <= t) this.feed(this.entries[this.position]!.message);
    this.store.flush();
    this.progress();
    if (this.position >= this.entries.length) this.finish();
  }

  /** Feed everything at once (tests, export without watching). */
  runToEnd(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    while (this.position < this.entries.length) this.feed(this.entries[this.position]!.message);
    this.finish();
  }

  boot(): void {}
  run(): void {}
  next(): void {
    this.step();
  }
  intervene(): void {}

  async shutdown(): Promise<void> {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.endRun();
    this.store.dispose();
  }
}
