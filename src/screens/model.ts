// The contract between the screens and whatever drives them: a live guest, or a
// transcript being replayed. Screens read an AppView (low rate: boot stages, the run's
// steps and expectations) and a LabStore (high rate: the kernel state), and call the
// controller's methods; they never touch QEMU or the agent.
import type { Table } from '../lab/engine.js';
import type { RecordedRun, StepShape } from '../lab/timeline.js';
import type { ProfileEntry } from '../config/profiles.js';
import type { LabStore } from './store.js';
import type { Change, PanelId } from './view.js';

/** A scenario as the picker and Guided mode show it (the scenario model of issue 4). */
export type ScenarioInfo = {
  id: string;
  title: string;
  /** Thread subjects and Message-IDs it comes from. */
  threads: string[];
  /** What it shows, in one or two sentences. */
  summary: string;
  /** Profile parts it needs, e.g. "xfs or ext4, dax". */
  needs?: string;
  steps: StepInfo[];
  /** Interventions the user may make while it runs (drain the pipe, release the lease, kill). */
  interventions: Intervention[];
};

export type StepInfo = {
  /** "holder: vmsplice page 0". */
  label: string;
  actor?: string;
  /** The narrative: what happens in the kernel, what to watch and why. */
  say?: string;
  /** Where to look when the step has run. */
  watch?: { panel: PanelId; row?: string };
};

export type Intervention = { id: string; key: string; label: string; actor: string };

export type ExpectationStatus = 'pending' | 'held' | 'violated' | 'not-applicable';

export type ExpectationView = {
  id: string;
  description: string;
  status: ExpectationStatus;
  /** The step it belongs to (index into steps). */
  step?: number;
  /** What was seen: "blocked in xfs_break_dax_layouts after 0.31 s". */
  detail?: string;
  evidence?: string[];
};

/** A violated expectation is a finding about the kernel, with its evidence. */
export type Finding = { id: string; title: string; detail: string; evidence: string[] };

/** A step the run has reached: what changed since it began (Guided points at it); skipped when its condition did not hold. */
export type StepRecord = { index: number; changes: Change[]; skipped?: boolean };

export type RunView = {
  scenario: ScenarioInfo;
  guided: boolean;
  /** Steps that have run (or are running), in order. */
  steps: StepRecord[];
  /** Index of the step running now, or of the next one when waiting. */
  current: number;
  status: 'running' | 'waiting' | 'paused' | 'finished' | 'failed';
  expectations: ExpectationView[];
  findings: Finding[];
  /** Tables the scenario fills in (pin-accounting: reference and pin deltas per way and memory). */
  tables?: Record<string, Table>;
  error?: string;
  /** The run could not test this kernel (exit 125): why. Not an error; status is "finished". */
  couldNotTest?: string;
  /** A note for the user ("drain sent", "killed truncator"). */
  note?: string;
  /** What the timeline reads: the run's record (steps and verdicts with their times) and the scenario's steps. */
  record?: { run: RecordedRun; steps: StepShape[] };
};

export type StageView = { id: string; detail: string; state: 'running' | 'done' | 'failed'; ms?: number; note?: string };

export type BootView = {
  profile: string;
  status: 'idle' | 'booting' | 'ready' | 'failed' | 'stopping' | 'stopped';
  stages: StageView[];
  accel?: string;
  /** The newest lines of the guest console and of the host steps. */
  console: string[];
  error?: string;
  consoleLog?: string;
  runDir?: string;
  kernel?: string;
  mount?: string;
  /**
   * The lab cannot test this kernel (it cannot read its state, or it lacks what the lab
   * needs): why. Not an error of the lab's, not the kernel's fault; status is "failed".
   */
  couldNotTest?: string;
  /** Each lab kprobe on this kernel: attached, not called (measured), unavailable, and why. */
  probes?: ProbeView[];
};

export type ProbeView = { name: string; status: 'attached' | 'not called' | 'unavailable' | string; why?: string; /** Fired this often in the last run. */ hits?: number };

export type AppView = {
  source: 'live' | 'replay';
  boot: BootView;
  run: RunView | null;
  transcript: string | null;
  /** A replay's pacing. */
  replay?: { speed: number; paused: boolean; position: number; total: number; done: boolean; file: string; problems: string[] };
  /** Where the last export went. */
  exported?: string[];
};

export interface LabController {
  readonly store: LabStore;
  getView(): AppView;
  subscribe(listener: () => void): () => void;

  listProfiles(): ProfileEntry[];
  /** The raw saved data of a profile (to edit a broken one), or undefined. */
  savedProfileData(name: string): unknown;
  /** Validate and save; `replacing` is removed only after the new one is saved. Throws ProfileError. */
  saveProfile(data: unknown, replacing?: string): void;
  deleteProfile(name: string): boolean;

  boot(profile: string): void;
  scenarios(): ScenarioInfo[];
  run(id: string, opts: { guided: boolean }): void;
  /** Guided: run the next step. */
  next(): void;
  /** Pause (live: between steps; replay: the feed). */
  setPaused(paused: boolean): void;
  /** While paused: one step (live) or one message batch (replay). */
  step(): void;
  intervene(id: string): void;
  /** Replay only: change speed. */
  setSpeed?(speed: number): void;
  /** Write the report (text wrapped at 72 columns, and Markdown) next to the transcript. */
  exportReport(): string[];
  /** Stop the guest cleanly (and stop any replay); resolves when QEMU is gone. */
  shutdown(): Promise<void>;
}
