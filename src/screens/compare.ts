// The compare controller: one scenario on two sides, each a profile run live (a guest
// booted by a LiveController of its own, one after the other unless the machine has the
// cores and memory for both: the caller decides, as `daxlab compare` does) or a saved run
// (a transcript and its report). The screens read a CompareView and the pure model in
// compareModel.ts; a live side's steps are kept as they finish, and once its run is over
// the side is rebuilt from its transcript, exactly as a saved run would be.
import fs from 'node:fs';
import path from 'node:path';
import type { ScenarioReport } from '../lab/engine.js';
import type { Comparison } from '../lab/compare.js';
import { builtinScenarios } from '../lab/scenarios/index.js';
import { stepShape, type StepShape } from '../lab/timeline.js';
import { replayTranscript } from '../wire/transcript.js';
import { compareMarkdown, compareText } from './compareReport.js';
import { emptySide, finishedSide, sidesComparison, type CompareSide } from './compareModel.js';
import { runRecordPath, type RunRecord } from './controller.js';
import { engineExpectations, engineScenarioInfo, verdictView } from './engineRun.js';
import type { AppView, LabController, ScenarioInfo } from './model.js';

export type SideSpec = { kind: 'profile'; profile: string } | { kind: 'run'; file: string };
export type CompareSpec = { scenario?: string | undefined; sides: [SideSpec, SideSpec] };

export type CompareView = {
  scenario: ScenarioInfo | null;
  /** The scenario's steps as the timelines place them. */
  shapes: StepShape[];
  sides: [CompareSide, CompareSide];
  /** One guest after the other, or both at once, and why. */
  plan: string;
  /** As `daxlab compare` prints it, once both runs are over. */
  comparison: Comparison | null;
  exported?: string[];
  /** A mistake in what was asked (two scenarios, an unknown one): nothing runs. */
  error?: string;
};

/** What the compare needs of a live controller (src/screens/live.ts). */
export type LiveSide = Pick<LabController, 'store' | 'getView' | 'subscribe' | 'boot' | 'run' | 'shutdown'>;

export type CompareDeps = {
  /** A controller of its own for each profile side (the live one boots a guest). */
  live?: () => LiveSide;
  /** Whether the profiles' guests may run at once (src/commands/runs.ts: concurrency). */
  plan?: (profiles: string[]) => { parallel: boolean; why: string };
};

export class CompareSpecError extends Error {}

/** A saved run: its transcript and its report, found from either file. */
export type SavedRun = { transcript: string; report: ScenarioReport };

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, 'utf8'));

/**
 * A saved run from any of the files the lab writes: a transcript (with the TUI's
 * <stem>.lab-run.json, or `daxlab run --json`'s report saved as <stem>.json or
 * <stem>.report.json next to it), a lab-run.json, or a report whose `record` (or
 * `transcript`) names its transcript.
 */
export function loadSavedRun(file: string): SavedRun {
  if (!fs.existsSync(file)) throw new CompareSpecError(`no such saved run: ${file}`);
  const stem = file.replace(/\.jsonl$/, '');
  let transcript: string;
  let raw: unknown;
  if (file.endsWith('.jsonl')) {
    transcript = file;
    const next = [runRecordPath(file), `${stem}.json`, `${stem}.report.json`].find((f) => fs.existsSync(f));
    if (!next) throw new CompareSpecError(`${file}: no report next to it (${path.basename(runRecordPath(file))}, or what "daxlab run --json" printed saved as ${path.basename(stem)}.json)`);
    raw = readJson(next);
  } else {
    try {
      raw = readJson(file);
    } catch (err) {
      throw new CompareSpecError(`${file}: not a saved run (a transcript .jsonl, its .lab-run.json, or a "daxlab run --json" report): ${(err as Error).message}`);
    }
    const r = raw as { engine?: unknown; record?: unknown; transcript?: unknown };
    const named = r.engine ? file.replace(/\.lab-run\.json$/, '.jsonl') : typeof r.record === 'string' ? r.record : typeof r.transcript === 'string' ? r.transcript : null;
    if (!named) throw new CompareSpecError(`${file}: the report names no transcript (run with --record to keep one)`);
    transcript = path.isAbsolute(named) || fs.existsSync(named) ? named : path.join(path.dirname(file), named);
    if (!fs.existsSync(transcript)) throw new CompareSpecError(`${file}: its transcript ${transcript} is gone`);
  }
  return { transcript, report: normalReport(raw, file) };
}

/**
 * The report of a run as the engine returns it, from a full one or a trimmed one (the
 * scenario by its id alone, no steps or verdict): what is missing comes from the built-in
 * scenario and the exit code, never guessed about the kernel.
 */
function normalReport(raw: unknown, file: string): ScenarioReport {
  const record = raw as Partial<RunRecord> & Record<string, unknown>;
  const r = (record.engine ?? record) as Partial<Omit<ScenarioReport, 'scenario'>> & { scenario?: ScenarioReport['scenario'] | string };
  const id = typeof r.scenario === 'string' ? r.scenario : r.scenario?.id;
  if (!id || !Array.isArray(r.expectations) || !r.kernel || typeof r.exitCode !== 'number')
    throw new CompareSpecError(`${file}: not the report of a run (daxlab run --json prints one; the TUI writes <run>.lab-run.json)`);
  const builtin = builtinScenarios.find((s) => s.id === id);
  const known = new Map((builtin ? engineExpectations(builtin) : []).map((e) => [e.id, e]));
  const scenario = typeof r.scenario === 'object' ? r.scenario : { id, title: builtin?.title ?? id, summary: builtin?.summary ?? '', threads: builtin?.threads ?? [], era: builtin?.era ?? [] };
  const verdict = r.verdict ?? (r.exitCode === 0 ? 'held' : r.exitCode === 1 ? 'finding' : 'cannot-test');
  return {
    ...(r as ScenarioReport),
    scenario,
    verdict,
    cannotTest: r.cannotTest ?? null,
    profile: r.profile ?? { name: path.basename(file).replace(/\..*$/, ''), fs: '?' },
    expectations: r.expectations.map((v) => {
      const k = known.get(v.id);
      return { ...v, description: v.description ?? k?.description ?? v.id, step: v.step ?? (k?.step === undefined ? null : k.step + 1), t: v.t ?? null, evidence: v.evidence ?? {} };
    }),
    steps: r.steps ?? [],
    findings: r.findings ?? [],
    tables: r.tables ?? {},
  };
}

/** A side from a saved (or just finished) run. */
function sideOfRun(label: string, source: CompareSide['source'], run: SavedRun, steps: number): CompareSide {
  const expectations = run.report.expectations.map((v) => verdictView(v, v.step === null ? undefined : v.step - 1));
  return finishedSide(label, source, replayTranscript(run.transcript).messages, run.report, expectations, run.transcript, steps);
}

export class CompareController {
  private view: CompareView;
  private listeners = new Set<() => void>();
  private lives: LiveSide[] = [];
  private stopped = false;
  private started = false;
  readonly done: Promise<void>;
  private resolveDone: () => void = () => {};

  constructor(
    readonly spec: CompareSpec,
    private readonly deps: CompareDeps = {},
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    const label = (s: SideSpec) => (s.kind === 'profile' ? s.profile : s.file);
    const sides = spec.sides.map((s) => emptySide(label(s), s.kind === 'profile' ? 'profile' : 'run', s.kind === 'run' ? 'running' : 'queued', s.kind === 'run' ? 'loading' : 'waiting for its turn')) as [CompareSide, CompareSide];
    this.view = { scenario: null, shapes: [], sides, plan: '', comparison: null };
    // Saved runs first: they name the scenario when the user did not.
    const saved: Array<SavedRun | null> = [null, null];
    let error: string | undefined;
    spec.sides.forEach((s, i) => {
      if (s.kind !== 'run') return;
      try {
        saved[i] = loadSavedRun(s.file);
      } catch (err) {
        if (!(err instanceof CompareSpecError)) throw err;
        sides[i] = { ...sides[i]!, status: 'failed', note: err.message, exitCode: 125 };
      }
    });
    const ids = [...new Set([spec.scenario, ...saved.map((r) => r?.report.scenario.id)].filter((x): x is string => !!x))];
    if (ids.length > 1) error = `the two sides are different scenarios (${ids.join(' and ')}): compare runs of one scenario`;
    const scenario = ids.length === 1 ? builtinScenarios.find((s) => s.id === ids[0]) : undefined;
    if (!error && !ids.length) error = 'no scenario named: pick one';
    if (!error && !scenario) error = `"${ids[0]}" is not a built-in scenario (daxlab list names them)`;
    if (scenario) {
      this.view.scenario = engineScenarioInfo(scenario);
      this.view.shapes = scenario.steps.map(stepShape);
      saved.forEach((r, i) => {
        if (r && !error) sides[i] = sideOfRun(sides[i]!.label, 'run', r, scenario.steps.length);
      });
      // Until a live side reports, its expectations are the scenario's, pending.
      sides.forEach((s, i) => {
        if (s.source === 'profile') sides[i] = { ...s, expectations: engineExpectations(scenario) };
      });
    }
    if (error) this.view.error = error;
    this.view.comparison = sidesComparison(sides[0], sides[1]);
    if (this.view.comparison || error) this.resolveDone();
  }

  getView = (): CompareView => this.view;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private update(patch: Partial<CompareView>): void {
    this.view = { ...this.view, ...patch };
    for (const l of this.listeners) l();
  }

  private patchSide(i: number, patch: Partial<CompareSide> | ((s: CompareSide) => Partial<CompareSide>)): void {
    const sides = [...this.view.sides] as [CompareSide, CompareSide];
    sides[i] = { ...sides[i]!, ...(typeof patch === 'function' ? patch(sides[i]!) : patch) };
    const comparison = sidesComparison(sides[0], sides[1]);
    this.update({ sides, comparison });
    if (comparison) this.resolveDone();
  }

  /** Run the profile sides (saved runs are loaded already). */
  start(): void {
    if (this.started || this.view.error) return;
    this.started = true;
    const live = this.spec.sides.flatMap((s, i) => (s.kind === 'profile' ? [{ i, profile: s.profile }] : []));
    if (!live.length) return;
    if (!this.deps.live) {
      for (const { i } of live) this.patchSide(i, { status: 'failed', note: 'no guest can be booted here', exitCode: 125 });
      return;
    }
    const plan = live.length > 1 && this.deps.plan ? this.deps.plan(live.map((l) => l.profile)) : { parallel: false, why: live.length > 1 ? 'one guest after the other' : 'one guest' };
    this.update({ plan: plan.why });
    const one = (l: (typeof live)[number]) => this.runLive(l.i, l.profile).catch((err: Error) => this.patchSide(l.i, { status: 'failed', note: `a bug of daxlab: ${err.message}`, exitCode: 3 }));
    void (async () => {
      if (plan.parallel) await Promise.all(live.map(one));
      else for (const l of live) if (!this.stopped) await one(l);
    })();
  }

  private async runLive(i: number, profile: string): Promise<void> {
    const live = this.deps.live!();
    this.lives.push(live);
    const scenario = this.view.scenario!;
    this.patchSide(i, { status: 'booting', note: 'booting' });
    const wait = (done: (v: AppView) => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (this.stopped || done(live.getView())) {
            off();
            resolve();
          }
        };
        const off = live.subscribe(check);
        check();
      });
    const offView = live.subscribe(() => this.follow(i, live));
    const offStore = live.store.subscribe(() => this.patchSide(i, { now: live.store.getSnapshot() }));
    try {
      live.boot(profile);
      await wait((v) => v.boot.status === 'ready' || v.boot.status === 'failed');
      if (this.stopped) return;
      const boot = live.getView().boot;
      if (boot.status === 'failed') {
        this.patchSide(i, { status: 'failed', note: `could not test: the guest did not boot: ${boot.error ?? 'see the console log'}`, exitCode: 125 });
        return;
      }
      this.patchSide(i, { status: 'running', note: `${boot.kernel ?? ''} ${boot.accel ?? ''}`.trim(), release: boot.kernel ?? null, current: -1 });
      live.run(scenario.id, { guided: false });
      if (!live.getView().run) {
        this.patchSide(i, { status: 'failed', note: `${profile} cannot run ${scenario.id}`, exitCode: 125 });
        return;
      }
      await wait((v) => v.run?.status === 'finished' || v.run?.status === 'failed');
      if (this.stopped) return;
      const run = live.getView().run!;
      const transcript = live.getView().transcript;
      const report = run.record?.run as ScenarioReport | undefined;
      offView();
      offStore();
      this.patchSide(i, { note: 'shutting the guest down' });
      await live.shutdown();
      if (report && 'exitCode' in report && transcript) {
        this.patchSide(i, sideOfRun(profile, 'profile', { transcript, report }, scenario.steps.length));
      } else {
        this.patchSide(i, { status: 'failed', note: `a bug of daxlab: ${run.error ?? 'the run ended without a report'}`, exitCode: 3 });
      }
    } finally {
      offView();
      offStore();
    }
  }

  /** A live side's progress: each step's state kept as the next one begins. */
  private follow(i: number, live: LiveSide): void {
    const v = live.getView();
    const side = this.view.sides[i]!;
    if (side.status === 'booting') {
      const stage = [...v.boot.stages].reverse().find((s) => s.state === 'running') ?? v.boot.stages.at(-1);
      if (stage) this.patchSide(i, { note: `booting: ${stage.id}${stage.detail ? ` ${stage.detail}` : ''}` });
      return;
    }
    const run = v.run;
    if (!run || side.status !== 'running') return;
    const stepStates = [...side.stepStates];
    while (stepStates.length < run.current) stepStates.push(live.store.state);
    const begun = (k: number) => run.steps.some((s) => s.index === k);
    const steps = run.scenario.steps.map((_, k) => {
      const rec = run.record?.run.steps?.find((s) => s.step === k + 1);
      return { start: rec?.start ?? side.steps[k]?.start ?? (begun(k) ? (live.store.state.lastT ?? null) : null), end: rec?.end ?? null };
    });
    this.patchSide(i, {
      stepStates,
      current: begun(run.current) ? run.current : run.current - 1,
      steps,
      expectations: run.expectations,
      now: live.store.state,
      note: `step ${run.current + 1}/${run.scenario.steps.length} ${run.status}${run.note ? ` · ${run.note}` : ''}`,
    });
  }

  /** Where the export goes: next to the first side's transcript, else here. */
  private exportDir(): string {
    const t = this.view.sides.find((s) => s.transcript)?.transcript;
    return t ? path.dirname(t) : process.cwd();
  }

  /** The compare table as text (72 columns), Markdown and JSON. Throws when the runs are not both over. */
  exportCompare(dir = this.exportDir()): string[] {
    const c = this.view.comparison;
    if (!c) throw new Error('the runs are not both over yet: nothing to export');
    const stem = path.join(dir, `compare-${c.scenario.id}`);
    const files = [`${stem}.txt`, `${stem}.md`, `${stem}.json`];
    fs.writeFileSync(files[0]!, compareText(c, 72));
    fs.writeFileSync(files[1]!, compareMarkdown(c));
    fs.writeFileSync(files[2]!, `${JSON.stringify(c, null, 2)}\n`);
    this.update({ exported: files });
    return files;
  }

  /** Every guest of the compare shut down. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.lives.map((l) => l.shutdown().catch(() => {})));
    this.resolveDone();
  }
}
