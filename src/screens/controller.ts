// What both controllers share: the AppView and its listeners, profiles (conf), the
// expectation bookkeeping of a run, the report export. The live one (live.ts) drives a
// guest; the replay one (replay.ts) feeds a transcript.
import fs from 'node:fs';
import path from 'node:path';
import {
  deleteSavedProfile,
  listProfiles,
  saveProfile,
  savedProfileStore,
  type ProfileEntry,
} from '../lab/profiles.js';
import type { ScenarioReport } from '../lab/engine.js';
import type { LabState } from '../lab/state.js';
import { evaluate, experimentInfo, experiments, type Experiment, type StepTimes } from './experiments.js';
import type { AppView, ExpectationView, Finding, LabController, RunView, ScenarioInfo } from './model.js';
import { buildReport, reportMarkdown, reportText } from './report.js';
import { LabStore } from './store.js';
import { changesBetween, lossSummary } from './view.js';

/**
 * A run's record next to its transcript. An experiment's: its step times, from which the
 * replay evaluates the same expectations again. An engine run's: the engine's report, whose
 * verdicts the replay shows as decided and whose step times place the replay in the story.
 */
export type RunRecord =
  | { scenario: string; guided: boolean; times: StepTimes[]; status: RunView['status']; error?: string; engine?: undefined }
  | { scenario: string; guided: boolean; engine: ScenarioReport; info: ScenarioInfo; status: RunView['status']; error?: string };

/** transcript.jsonl -> transcript.lab-run.json, next to it. */
export const runRecordPath = (transcript: string) => `${transcript.replace(/\.jsonl$/, '')}.lab-run.json`;

export abstract class BaseController implements Partial<LabController> {
  readonly store: LabStore;
  protected view: AppView;
  private listeners = new Set<() => void>();
  /** The experiment of the current run and its step times (guest clock). */
  protected experiment: Experiment | null = null;
  protected times: StepTimes[] = [];
  /** States at each step's start: what changed since is what Guided mode points at. */
  protected stepStart: LabState[] = [];
  private unsubscribeStore: (() => void) | null = null;

  constructor(view: AppView, store = new LabStore()) {
    this.store = store;
    this.view = view;
  }

  getView = (): AppView => this.view;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  protected update(patch: Partial<AppView>): void {
    this.view = { ...this.view, ...patch };
    for (const l of this.listeners) l();
  }

  protected updateRun(patch: Partial<RunView>): void {
    if (this.view.run) this.update({ run: { ...this.view.run, ...patch } });
  }

  protected updateBoot(patch: Partial<AppView['boot']>): void {
    this.update({ boot: { ...this.view.boot, ...patch } });
  }

  // -- profiles -------------------------------------------------------------------------

  listProfiles(): ProfileEntry[] {
    return listProfiles();
  }

  savedProfileData(name: string): unknown {
    return savedProfileStore().get('profiles')[name];
  }

  saveProfile(data: unknown, replacing?: string): void {
    // saveProfile validates before it writes anything: a bad edit loses nothing saved.
    const profile = saveProfile(data);
    // A rename removes the old entry only once the new one is safely written.
    if (replacing && replacing !== profile.name) deleteSavedProfile(replacing);
  }

  deleteProfile(name: string): boolean {
    return deleteSavedProfile(name);
  }

  // -- scenarios ------------------------------------------------------------------------

  scenarios(): ScenarioInfo[] {
    return experiments.map(experimentInfo);
  }

  protected beginRun(experiment: Experiment, guided: boolean, times: StepTimes[] = []): void {
    this.experiment = experiment;
    this.times = times;
    const expectations: ExpectationView[] = experiment.expectations.map((x) => ({ id: x.id, description: x.description, status: 'pending', step: x.step }));
    this.startRun(experimentInfo(experiment), expectations, guided);
  }

  /** A run of any kind: the screens see its scenario, steps and expectations from now on. */
  protected startRun(info: ScenarioInfo, expectations: ExpectationView[], guided: boolean): void {
    this.stepStart = [];
    this.update({ run: { scenario: info, guided, steps: [], current: 0, status: 'running', expectations, findings: [] } });
    this.unsubscribeStore?.();
    this.unsubscribeStore = this.store.subscribe(() => this.reevaluate());
  }

  /** Expectations and the current step's changes, from the state the screens see (≤15 times a second). */
  protected reevaluate(): void {
    const run = this.view.run;
    if (!run) return;
    const state = this.store.getSnapshot();
    let changed = false;
    // An experiment's expectations are predicates the TUI evaluates; the engine decides its own.
    const results = this.experiment ? evaluate(this.experiment, state, this.times) : null;
    const expectations = run.expectations.map((e, i) => {
      if (!results) return e;
      // A decided verdict stays decided: later evictions must not undo it.
      if (e.status !== 'pending') return e;
      const v = results[i]!.v;
      if (v.status === 'pending') return e;
      changed = true;
      return { ...e, status: v.status, ...(v.detail ? { detail: v.detail } : {}), ...(v.evidence ? { evidence: v.evidence } : {}) };
    });
    const findings: Finding[] = results
      ? expectations.filter((e) => e.status === 'violated').map((e) => ({ id: e.id, title: e.description, detail: e.detail ?? 'violated', evidence: e.evidence ?? [] }))
      : run.findings;
    const steps = run.steps.map((s) => {
      const before = this.stepStart[s.index];
      if (!before || s.index !== run.current) return s;
      changed = true;
      return { ...s, changes: changesBetween(before, state) };
    });
    if (changed) this.updateRun({ expectations, findings, steps });
  }

  protected endRun(): void {
    this.unsubscribeStore?.();
    this.unsubscribeStore = null;
  }

  // -- report ---------------------------------------------------------------------------

  exportReport(): string[] {
    const transcript = this.view.transcript;
    const dir = transcript ? path.dirname(transcript) : process.cwd();
    const report = buildReport(this.store.state, this.view.run, transcript, lossSummary(this.store.state));
    const stem = this.view.run ? `report-${this.view.run.scenario.id}` : 'report';
    const txt = path.join(dir, `${stem}.txt`);
    const md = path.join(dir, `${stem}.md`);
    fs.writeFileSync(txt, reportText(report, 72));
    fs.writeFileSync(md, reportMarkdown(report));
    this.update({ exported: [txt, md] });
    return [txt, md];
  }

  protected writeRunRecord(engine?: ScenarioReport): void {
    const run = this.view.run;
    const transcript = this.view.transcript;
    if (!run || !transcript || (!this.experiment && !engine)) return;
    const common = { scenario: run.scenario.id, guided: run.guided, status: run.status, ...(run.error ? { error: run.error } : {}) };
    const record: RunRecord = engine ? { ...common, engine, info: run.scenario } : { ...common, times: this.times };
    try {
      fs.writeFileSync(runRecordPath(transcript), `${JSON.stringify(record, null, 1)}\n`);
    } catch {
      // The run itself is in the transcript; the record only saves the replay a guess.
    }
  }
}
