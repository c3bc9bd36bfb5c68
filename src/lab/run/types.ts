// What a scenario run takes and gives: the target it runs on, its options and typed events,
// and the report (verdicts, findings, steps, tables, clean-up). Types only; the run itself
// is engine.ts and the modules under run/.
import type { AgentLink } from '../../wire/link.js';
import type { Profile } from '../../config/profiles.js';
import type { HelloResult, ReadyMessage } from '../../wire/protocol.js';
import type { Status } from '../expect.js';
import type { AVAILABLE, Scenario } from '../scenario.js';
import type { LabState } from '../state.js';
import type { Table } from '../tables.js';

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

export type { Table, TableCell } from '../tables.js';

export type StepRecord = {
  step: number;
  id: string;
  say: string;
  status: 'ran' | 'skipped' | 'not-reached';
  reason?: string;
  actor?: string;
  op?: string;
  action?: { ret?: number; error?: string; signal?: string; ms?: number; result?: Record<string, unknown> } | null;
  /**
   * The action failed: whose mistake (../failures.ts: "scenario", the lab's request was
   * wrong; "kernel", its answer to what the scenario set up) and whether the scenario
   * declares that it may fail (a returns check that allows it, when: failed/succeeded).
   */
  failure?: { kind: 'scenario' | 'kernel'; why: string; declared: boolean };
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
