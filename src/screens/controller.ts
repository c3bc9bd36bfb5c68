// What both controllers share: the AppView and its listeners, profiles (conf), the run
// on screen (its scenario, steps, verdicts; what changed in the current step), the report
// export. The live one (live.ts) drives a
// guest; the replay one (replay.ts) feeds a transcript.
import fs from 'node:fs';
import path from 'node:path';
import {
  deleteSavedProfile,
  listProfiles,
  saveProfile,
  savedProfileStore,
  type ProfileEntry,
} from '../config/profiles.js';
import type { ScenarioReport } from '../lab/engine.js';
import type { LabState } from '../lab/state.js';
import { builtinScenarios } from '../lab/scenarios/index.js';
import { engineScenarioInfo } from './engineRun.js';
import type { AppView, ExpectationView, LabController, RunView, ScenarioInfo } from './model.js';
import { buildReport, reportMarkdown, reportText } from './report.js';
import { LabStore } from './store.js';
import { changesBetween, lossSummary } from './view.js';

/**
 * A run's record next to its transcript: the engine's report, whose verdicts a replay shows
 * at the guest time they were reached and whose step times place the replay in the story.
 */
export type RunRecord = { scenario: string; guided: boolean; engine: ScenarioReport; info: ScenarioInfo; status: RunView['status']; error?: string };

/** transcript.jsonl -> transcript.lab-run.json, next to it. */
export const runRecordPath = (transcript: string) => `${transcript.replace(/\.jsonl$/, '')}.lab-run.json`;

export abstract class BaseController implements Partial<LabController> {
  readonly store: LabStore;
  protected view: AppView;
  private listeners = new Set<() => void>();
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
    return builtinScenarios.map(engineScenarioInfo);
  }

  /** A run of any kind: the screens see its scenario, steps and expectations from now on. */
  protected startRun(info: ScenarioInfo, expectations: ExpectationView[], guided: boolean): void {
    this.stepStart = [];
    this.update({ run: { scenario: info, guided, steps: [], current: 0, status: 'running', expectations, findings: [] } });
    this.unsubscribeStore?.();
    this.unsubscribeStore = this.store.subscribe(() => this.reevaluate());
  }

  /**
   * Decided verdicts in place of their pending expectations (by id); one the list did not
   * name (a run-level check) is added at the end. The same view object twice is no change.
   */
  protected mergeVerdicts(views: Iterable<ExpectationView>, patch: Partial<RunView> = {}): void {
    const run = this.view.run;
    if (!run) return;
    let changed = false;
    const byId = new Map([...views].map((v) => [v.id, v]));
    const expectations = run.expectations.map((e) => {
      const v = byId.get(e.id);
      if (!v || v === e) return e;
      changed = true;
      return v;
    });
    for (const v of byId.values()) if (!expectations.some((e) => e.id === v.id)) (expectations.push(v), (changed = true));
    if (changed || Object.keys(patch).length) this.updateRun({ ...(changed ? { expectations } : {}), ...patch });
  }

  /** What changed since the current step began: Guided mode points at it (≤15 times a second, with the frames). */
  protected reevaluate(): void {
    const run = this.view.run;
    const before = run ? this.stepStart[run.current] : undefined;
    if (!run || !before) return;
    const state = this.store.getSnapshot();
    this.updateRun({ steps: run.steps.map((s) => (s.index === run.current ? { ...s, changes: changesBetween(before, state) } : s)) });
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

  protected writeRunRecord(engine: ScenarioReport): void {
    const run = this.view.run;
    const transcript = this.view.transcript;
    if (!run || !transcript) return;
    const record: RunRecord = { scenario: run.scenario.id, guided: run.guided, status: run.status, ...(run.error ? { error: run.error } : {}), engine, info: run.scenario };
    try {
      fs.writeFileSync(runRecordPath(transcript), `${JSON.stringify(record, null, 1)}\n`);
    } catch {
      // The run itself is in the transcript; the record only saves the replay a guess.
    }
  }
}
