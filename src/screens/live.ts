// The live controller: boots a guest for a profile, follows its agent channel into the
// store, runs a scenario step by step through LabDriver, and shuts the guest down. The
// screens call it; it is the only part of the TUI that reaches src/vm.
import fs from 'node:fs';
import path from 'node:path';
import { LabDriver } from '../lab/driver.js';
import { loadProfile, type Profile } from '../config/profiles.js';
import { stateFromTranscript } from '../lab/record.js';
import { followChannel, type RunFeed } from '../wire/transcript.js';
import { paths } from '../paths.js';
import { ensureHost } from '../vm/host.js';
import type { Progress } from '../vm/progress.js';
import { BootError, GuestSession } from '../vm/session.js';
import { BaseController } from './controller.js';
import { runScenario, type LabTarget, type RunEvent, type ScenarioReport, type StepHook } from '../lab/engine.js';
import type { Scenario } from '../lab/scenario.js';
import { traceCommand } from '../lab/trace.js';
import { rememberCallScan } from '../lab/callScanCache.js';
import type { TraceReply } from '../lab/era.js';
import { classify, isCannotTest } from '../exit.js';
import { builtinScenarios, profileScenarios } from '../lab/scenarios/index.js';
import { stepShape } from '../lab/timeline.js';
import { engineExpectations, engineScenarioInfo, findingView, kernelTimer, verdictView } from './engineRun.js';
import { interventionOf } from '../wire/ops.js';
import type { LabController, RunView, ScenarioInfo, StageView } from './model.js';

const CONSOLE_LINES = 8;


export class LiveController extends BaseController implements LabController {
  private session: GuestSession | null = null;
  private driver: LabDriver | null = null;
  private feed: RunFeed | null = null;
  private profile: Profile | null = null;
  private booting: Promise<void> | null = null;
  private consolePoll: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Steps the user allowed (Guided: one per "next"; paused: one per "step"). */
  private permits = 0;
  private paused = false;
  private wake: (() => void) | null = null;
  private runToken = 0;

  constructor() {
    super({ source: 'live', boot: { profile: '', status: 'idle', stages: [], console: [] }, run: null, transcript: null });
  }

  // -- boot ------------------------------------------------------------------------------

  boot(profileName: string): void {
    if (this.booting) return;
    this.booting = this.doBoot(profileName).finally(() => (this.booting = null));
  }

  private progress(): Progress {
    const stage = (id: string, patch: Partial<StageView>) => {
      const stages = [...this.view.boot.stages];
      const i = stages.findIndex((s) => s.id === id && s.state === 'running');
      if (i >= 0) stages[i] = { ...stages[i]!, ...patch };
      else stages.push({ id, detail: '', state: 'running', ...patch });
      this.updateBoot({ stages });
    };
    return {
      start: (id, detail) => {
        const stages = [...this.view.boot.stages.filter((s) => !(s.id === id && s.state === 'running')), { id, detail, state: 'running' as const }];
        this.updateBoot({ stages });
      },
      done: (id, ms, detail) => stage(id, { state: 'done', ms, ...(detail ? { note: detail } : {}) }),
      log: (id, line) => {
        if (id === 'accel') this.updateBoot({ accel: line });
        this.pushConsole(`[${id}] ${line}`);
      },
    };
  }

  private pushConsole(...lines: string[]): void {
    this.updateBoot({ console: [...this.view.boot.console, ...lines].slice(-CONSOLE_LINES) });
  }

  /** The guest console of the run being booted: its run directory is the newest one that was not there before. */
  private watchConsole(before: Set<string>): void {
    const runs = path.join(paths.state, 'runs');
    let file: string | null = null;
    let shown = '';
    this.consolePoll = setInterval(() => {
      try {
        if (!file) {
          const fresh = fs.readdirSync(runs).filter((d) => !before.has(d)).sort();
          if (!fresh.length) return;
          file = path.join(runs, fresh.at(-1)!, 'console.log');
          this.updateBoot({ consoleLog: file, runDir: path.dirname(file) });
        }
        const text = fs.readFileSync(file, 'utf8');
        if (text === shown) return;
        shown = text;
        const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim());
        this.updateBoot({ console: lines.slice(-CONSOLE_LINES) });
      } catch {
        // Not there yet.
      }
    }, 300);
  }

  private async doBoot(profileName: string): Promise<void> {
    if (this.session) await this.stopGuest();
    this.stopped = false;
    this.updateBoot({ profile: profileName, status: 'booting', stages: [], console: [], couldNotTest: undefined, probes: undefined });
    this.update({ run: null, transcript: null });
    const progress = this.progress();
    try {
      this.profile = loadProfile(profileName);
      progress.start('host', 'host packages');
      const began = performance.now();
      await ensureHost(progress, { install: true });
      progress.done('host', Math.round(performance.now() - began));
      const runs = path.join(paths.state, 'runs');
      this.watchConsole(new Set(fs.existsSync(runs) ? fs.readdirSync(runs) : []));
      const session = await GuestSession.boot(this.profile, { progress });
      this.session = session;
      if (this.stopped) return void (await this.stopGuest());
      // The state so far from the transcript (boot messages), then every later message
      // live: both happen in this one tick, so no message falls between them.
      this.store.reset(stateFromTranscript(session.transcript).state);
      this.feed = followChannel(session.channel, { dispatch: this.store.dispatch });
      this.driver = new LabDriver(session.channel);
      this.update({ transcript: session.transcript });
      this.updateBoot({
        runDir: session.runDir,
        consoleLog: session.files.consoleLog,
        kernel: session.ready.release,
        mount: `${session.hello.mount.fstype} -o ${session.hello.mount.options.split(',').find((o) => o.startsWith('dax')) ?? 'no dax!'}`,
        accel: `${session.accel.accel}: ${session.accel.reason}`,
      });
      // A guest lost under us (QEMU stopped or killed, the agent's heartbeat gone): why, in the session's words.
      session.lost.catch((err: Error) => {
        if (!this.stopped) this.updateBoot({ status: 'failed', error: err.message.split('\n')[0]! });
      });
      session.channel.on('close', () => {
        if (!this.stopped && !session.lostSignal.aborted) this.updateBoot({ status: 'failed', error: 'the agent channel closed: the guest is gone (see the console log)' });
      });
      const hz = this.profile.sampling.hz;
      progress.start('observer', `tracepoints and kprobes, sampling at ${hz} Hz`);
      const t0 = performance.now();
      const traced = (await session.channel.request(traceCommand({ cached: true }))) as TraceReply;
      rememberCallScan(traced);
      this.updateBoot({ probes: (traced.kprobeStatus ?? []).map((p) => ({ name: p.name, status: p.status, ...(p.why ? { why: p.why } : {}) })) });
      await session.channel.request({ cmd: 'observe', hz });
      progress.done('observer', Math.round(performance.now() - t0), probeSummary(traced));
      this.updateBoot({ status: 'ready' });
    } catch (err) {
      const e = err as Error;
      // A kernel the lab cannot read (no BTF, a member it needs missing) or one that lacks
      // what the lab needs: could not test, said as such, not a failure of the lab.
      const cannot = isCannotTest(err) ? classify(err).message.replace(/^could not test: /, '') : undefined;
      this.updateBoot({
        status: 'failed',
        ...(cannot ? { couldNotTest: cannot } : {}),
        error: e instanceof BootError ? e.message.split('\n--- console tail')[0]! : e.message,
        ...(e instanceof BootError && e.consoleLog ? { consoleLog: e.consoleLog } : {}),
        ...(e instanceof BootError && e.consoleTail ? { console: e.consoleTail.split('\n').slice(-CONSOLE_LINES) } : {}),
        stages: this.view.boot.stages.map((s) => (s.state === 'running' ? { ...s, state: 'failed' as const } : s)),
      });
    } finally {
      if (this.consolePoll) clearInterval(this.consolePoll);
      this.consolePoll = null;
    }
  }

  // -- runs ------------------------------------------------------------------------------

  /** The engine's scenarios: the built-ins and the profile's own (a broken one is left out here; \`daxlab list\` names its errors). */
  private engineScenarios(): Scenario[] {
    const own = this.profile ? profileScenarios(this.profile).flatMap((e) => ('scenario' in e ? [e.scenario] : [])) : [];
    return [...own, ...builtinScenarios.filter((b) => !own.some((o) => o.id === b.id))];
  }

  override scenarios(): ScenarioInfo[] {
    return this.engineScenarios().map(engineScenarioInfo);
  }

  run(id: string, opts: { guided: boolean }): void {
    if (!this.driver || this.view.boot.status !== 'ready') return;
    if (this.view.run && (this.view.run.status === 'running' || this.view.run.status === 'waiting' || this.view.run.status === 'paused')) return;
    const scenario = this.engineScenarios().find((s) => s.id === id);
    if (!scenario) return;
    const token = ++this.runToken;
    this.permits = 0;
    this.paused = false;
    const failed = (err: Error) => {
      const lost = this.session?.lostSignal.aborted ? (this.session.lostSignal.reason as Error) : null;
      if (token === this.runToken) this.updateRun({ status: 'failed', error: (lost ?? err).message.split('\n')[0]! });
    };
    this.startRun(engineScenarioInfo(scenario), engineExpectations(scenario), opts.guided);
    // Until the engine's report: steps placed by the commands the lab sends.
    this.updateRun({ record: { run: { expectations: [] }, steps: scenario.steps.map(stepShape) } });
    void this.runEngine(scenario, opts.guided, token).catch(failed);
  }

  /** The engine's events while its run is the one on screen. */
  private onEngineEvent(ev: RunEvent, token: number): void {
    if (token !== this.runToken) return;
    const run = this.view.run;
    if (!run) return;
    switch (ev.kind) {
      case 'step-started':
        // From now on, what changes is this step's doing.
        this.stepStart[ev.index] = this.store.state;
        this.updateRun({ current: ev.index, status: 'running', note: '', steps: [...run.steps, { index: ev.index, changes: [], ...(ev.skipped ? { skipped: true } : {}) }] });
        break;
      case 'verdict':
        this.mergeVerdicts([verdictView(ev.verdict, ev.verdict.step === null ? undefined : ev.verdict.step - 1)]);
        this.recordForTimeline((r) => ({ ...r, expectations: [...r.expectations, ev.verdict] }));
        break;
      case 'finding':
        this.updateRun({ findings: [...run.findings, findingView(ev.finding)] });
        this.recordForTimeline((r) => ({ ...r, findings: [...(r.findings ?? []), ev.finding] }));
        break;
      case 'run-ended':
        this.finishRun(ev.report);
        break;
      case 'step-ended':
        this.recordForTimeline((r) => ({ ...r, steps: [...(r.steps ?? []), ev.record] }));
        break;
    }
  }

  /** The timeline reads the run as the engine reports it, step by step and verdict by verdict. */
  private recordForTimeline(update: (r: NonNullable<RunView['record']>['run']) => NonNullable<RunView['record']>['run']): void {
    const record = this.view.run?.record;
    if (record) this.updateRun({ record: { ...record, run: update(record.run) } });
  }

  /**
   * After each step the engine asks us: in Guided mode (or paused) the lab waits here for
   * the user before the next step begins — unless a kernel timer is running, which would
   * not wait with us and would change what the step shows.
   */
  private async afterEngineStep(hook: StepHook, guided: boolean, steps: number): Promise<void> {
    if (!this.view.run) return;
    if (hook.index >= steps - 1 || !(guided || this.paused)) return;
    const timer = kernelTimer(this.store.state);
    if (timer) return this.updateRun({ note: `not waiting: ${timer}` });
    while (guided || this.paused) {
      if (this.permits > 0) {
        this.permits--;
        break;
      }
      this.updateRun({ status: this.paused && !guided ? 'paused' : 'waiting', note: '' });
      await new Promise<void>((resolve) => (this.wake = resolve));
      if (this.stopped) throw new Error('stopped');
    }
    this.updateRun({ status: 'running' });
  }

  private finishRun(report: ScenarioReport): void {
    const hits = report.measurements.probeHits as Record<string, number> | undefined;
    if (hits && this.view.boot.probes) this.updateBoot({ probes: this.view.boot.probes.map((p) => (p.name in hits ? { ...p, hits: hits[p.name]! } : p)) });
    this.updateRun({
      // could not test is an outcome (exit 125), not a failure of the lab
      status: 'finished',
      ...(report.cannotTest ? { couldNotTest: report.cannotTest } : {}),
      expectations: report.expectations.map((v) => verdictView(v, v.step === null ? undefined : v.step - 1)),
      findings: report.findings.map(findingView),
      tables: report.tables,
      record: { run: report, steps: this.view.run?.record?.steps ?? [] },
      note: `exit code ${report.exitCode} (${report.verdict})`,
    });
    this.writeRunRecord(report);
  }

  private async runEngine(scenario: Scenario, guided: boolean, token: number): Promise<void> {
    const session = this.session!;
    const target: LabTarget = { channel: session.channel, hello: session.hello, ready: session.ready, profile: this.profile!, transcript: session.transcript };
    await runScenario(target, scenario, {
      onEvent: (ev) => this.onEngineEvent(ev, token),
      afterStep: (hook) => this.afterEngineStep(hook, guided, scenario.steps.length),
    });
    if (token !== this.runToken) return;
    // The engine stops sampling when it ends; the dashboard stays live.
    await session.channel.request({ cmd: 'observe', hz: this.profile!.sampling.hz }).catch(() => {});
  }

  next(): void {
    // Only a run that waits can be let on: a key pressed while a step runs is not banked.
    if (this.view.run?.status !== 'waiting' && this.view.run?.status !== 'paused') return;
    this.permits++;
    this.wake?.();
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    if (paused && this.view.run?.status === 'running') this.updateRun({ note: 'pausing after this step' });
    if (!paused && this.view.run?.note === 'pausing after this step') this.updateRun({ note: '' });
    this.wake?.();
  }

  step(): void {
    if (this.paused) this.next();
  }

  intervene(id: string): void {
    const iv = this.interventionOf(id);
    if (!iv || !this.driver || !this.session) return;
    this.updateRun({ note: `${iv.label}: sent` });
    const sent =
      iv.op.op === 'kill' ? this.session.channel.request({ cmd: 'actor-kill', actor: iv.actor, signal: 'SIGKILL' }) : this.driver.start(iv.actor, iv.op);
    void sent.then(
      () => this.updateRun({ note: `${iv.label}: done` }),
      (err: Error) => this.updateRun({ note: `${iv.label}: ${err.message.split('\n')[0]}` }),
    );
  }

  /** An intervention the running scenario offers, and what it does. */
  private interventionOf(id: string) {
    if (!this.view.run) return null;
    const iv = this.view.run.scenario.interventions.find((i) => i.id === id);
    const op = interventionOf(id)?.op;
    return iv && op ? { actor: iv.actor, label: iv.label, op } : null;
  }

  // -- shutdown --------------------------------------------------------------------------

  private async stopGuest(): Promise<void> {
    this.runToken++;
    this.endRun();
    this.feed?.detach();
    this.feed = null;
    this.driver?.close();
    this.driver = null;
    const session = this.session;
    this.session = null;
    if (session) {
      this.updateBoot({ status: 'stopping' });
      await session.shutdown();
    }
    this.updateBoot({ status: 'stopped' });
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (this.consolePoll) clearInterval(this.consolePoll);
    // A boot in progress: GuestSession.boot reaps its own QEMU if it fails; if it
    // succeeds, doBoot sees `stopped` and shuts the guest down.
    await this.stopGuest();
    if (this.booting) await this.booting.catch(() => {});
    if (this.session) await this.stopGuest();
    this.store.flush();
    this.store.dispose();
  }
}

/** The observer stage's note: how many probes attached, and which did not and why (in short). */
export function probeSummary(traced: TraceReply): string | undefined {
  const st = traced.kprobeStatus ?? [];
  const count = (status: string) => st.filter((p) => p.status === status).length;
  const parts = [`kprobes: ${count('attached')} attached`];
  if (count('not called')) parts.push(`${count('not called')} not called (${st.filter((p) => p.status === 'not called').map((p) => p.name).join(', ')})`);
  if (count('unavailable')) parts.push(`${count('unavailable')} unavailable`);
  if (traced.eventsFailed?.length) parts.push(`tracepoints unavailable: ${traced.eventsFailed.join(', ')}`);
  return st.length || traced.eventsFailed?.length ? parts.join(', ') : undefined;
}
