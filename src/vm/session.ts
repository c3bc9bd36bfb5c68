// One booted guest: QEMU started from a profile, its agent channel and QMP socket, the lab
// set up inside (namespace, mkfs, mount -o dax). Whatever happens — Ctrl-C, SIGTERM, an
// exception of ours, a hung boot — QEMU is stopped and reaped and its sockets removed;
// the console log stays in the run directory.
import type { ResultPromise } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Profile } from '../config/profiles.js';
import { markOwned, processAlive, releaseOwned, sweepDeadRuns } from './sweep.js';
import { attachRecorder, TranscriptRecorder, type RunFeed } from '../wire/transcript.js';
import { helloResult, type HelloResult, type ReadyMessage, type SetupCommand } from '../wire/protocol.js';
import { parseDuration, parseSize } from '../config/units.js';
import { CannotTestError, InterruptedError } from '../exit.js';
import { paths } from '../paths.js';
import { decideAccel, qemuVersion, rememberAccel, type AccelDecision } from './accel.js';
import { buildAgent } from './agentBuild.js';
import { AgentChannel } from './channel.js';
import { buildImage, missingModules, moduleLoadOrder, requiredModuleGroups, type GuestImage } from './image.js';
import { findTemplate, saveTemplate, templateDiskBytes, templateInputs, type NvdimmTemplate, type TemplateInputs } from './nvdimmTemplate.js';
import { checkKernel, checkKernelFiles, KernelError, resolveKernel, type Kernel } from './kernel.js';
import type { Progress } from './progress.js';
import { Qmp } from './qmp.js';
import { startQemu } from './qemuProcess.js';
import { agentSocket, qemuArgv, qmpSocket, type Accel, type RunFiles } from './qemu.js';
import { GuestWatchdog, watchConsoleForPanic } from './watchdog.js';
import { installCleanupHandlers, live, stoppedBy } from './exitPaths.js';
export { interruption } from './exitPaths.js';
import { dropWarmState, findWarmState, keepWarmState, migrateStopped, runLoaded, sweepWarmSaves, warmSaveDir, warmFailed, warmInputs, type WarmInputs, type WarmState } from './warmStart.js';

/** A KVM boot that has not reached the agent by then is taken as KVM not working here. */
const KVM_PROBE_MS = 30_000;

export { AGENT_SILENT_MS } from './watchdog.js';

/** The guest stopped running under us (QEMU stopped, killed or wedged): exit 125, never a finding. */
export class GuestLostError extends CannotTestError {
  override name = 'GuestLostError';
}

export class BootError extends CannotTestError {
  constructor(
    message: string,
    readonly consoleLog?: string,
    readonly consoleTail?: string,
  ) {
    super(
      message +
        (consoleLog === undefined
          ? ''
          : `\n--- console tail (${consoleLog}) ---\n${consoleTail || '(empty: the kernel printed nothing on the console yet)'}`),
    );
  }
}

export type BootTimings = {
  /** Kernel, agent and initramfs ready (cached: stamps checked, nothing rebuilt). */
  image: number;
  /** Everything the host does before it starts QEMU (image, accel decision, backing files). */
  host: number;
  qemuStart: number;
  kernel: number;
  init: number;
  /** The agent's module loaders, from its start to the last module. */
  modules: number;
  /** Of that, how long set-up waited for them. */
  moduleWait: number;
  namespace: number;
  mkfs: number;
  mount: number;
  agentHello: number;
  total: number;
};

export function consoleTail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n').trimEnd();
  } catch {
    return '';
  }
}

export type BootOptions = {
  progress: Progress;
  /** Keep the run directory's backing files (debugging). */
  keepFiles?: boolean;
  /**
   * false: fresh backing files, ndctl and mkfs in the guest, no template used or saved
   * (what every boot did before templates; the benchmark measures both side by side).
   */
  nvdimmTemplate?: boolean;
  /**
   * false: always a cold boot, neither restoring nor saving a warm start (warmStart.ts).
   * Otherwise a boot from the profile's NVDIMM template restores the guest saved after
   * set-up when there is one, and saves one when there is not.
   */
  warmStart?: boolean;
};

/** How this boot got to its set-up guest. */
export type WarmSource =
  | { kind: 'cold'; why: string }
  | { kind: 'saved'; key: string; dir: string; bytes: number; saveMs: number }
  | { kind: 'restored'; key: string; dir: string; bytes: number; savedAt: string; restoreMs: number };

/** How this boot got its namespaces and filesystem. */
export type NvdimmSource =
  | { kind: 'template'; dir: string }
  | { kind: 'made'; dir: string; diskBytes: number }
  | { kind: 'fresh' };

export class GuestSession {
  channel!: AgentChannel;
  qmp!: Qmp;
  ready!: ReadyMessage;
  hello!: HelloResult;
  kernel!: Kernel;
  image!: GuestImage;
  accel!: AccelDecision;
  timings = {} as BootTimings;
  nvdimmSource: NvdimmSource = { kind: 'fresh' };
  warm: WarmSource = { kind: 'cold', why: 'warm start off' };
  private warmWanted = false;
  private warmInputs: WarmInputs | null = null;
  private warmState: WarmState | null = null;
  private warmSaveTo: { dir: string; file: string } | null = null;
  /** QEMU is stopped for a save: the agent's silence is ours. */
  private saving = false;
  private template: NvdimmTemplate | null = null;
  private templateInputs: TemplateInputs | null = null;
  /** Every line of the run, both ways: <runDir>/transcript.jsonl. */
  recorder: TranscriptRecorder | null = null;
  feed: RunFeed | null = null;
  readonly runDir: string;
  readonly files: RunFiles;
  private child: ResultPromise | null = null;
  private exited: Promise<void> = Promise.resolve();
  private hasExited = true;
  private exitInfo = '';
  private stopping: Promise<void> | null = null;
  private readonly watchdog = new GuestWatchdog({
    pid: () => (this.hasExited || this.stopping ? undefined : this.child?.pid),
    qmp: () => this.qmp ?? null,
    agentUp: () => this.ready !== undefined,
    heldStill: () => this.saving,
    lose: (why) => this.loseGuest(why),
  });
  private readonly lostController = new AbortController();
  /** Aborted (with a GuestLostError) when the guest stops running under us. */
  readonly lostSignal = this.lostController.signal;
  /** Rejects with the GuestLostError when the guest is lost; never resolves. */
  readonly lost: Promise<never> = new Promise((_, reject) => this.lostSignal.addEventListener('abort', () => reject(this.lostSignal.reason)));

  private constructor(readonly profile: Profile) {
    this.lost.catch(() => {});
    // What dead runs of ours left (kill -9: no handler ran) goes before we add our own.
    sweepDeadRuns(path.join(paths.state, 'runs'));
    sweepWarmSaves(processAlive);
    const id = `${new Date().toISOString().replace(/[:.]/g, '-')}-${crypto.randomBytes(3).toString('hex')}`;
    this.runDir = path.join(paths.state, 'runs', id);
    fs.mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
    this.files = {
      socketDir: fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-')),
      consoleLog: path.join(this.runDir, 'console.log'),
      nvdimmFiles: profile.nvdimms.map((_, i) => path.join(this.runDir, `nvdimm${i}.img`)),
    };
    markOwned(this.runDir);
    markOwned(this.files.socketDir);
  }

  get runId(): string {
    return path.basename(this.runDir);
  }

  static async boot(profile: Profile, opts: BootOptions): Promise<GuestSession> {
    installCleanupHandlers();
    const session = new GuestSession(profile);
    live.add(session);
    try {
      await session.start(opts);
      // Ctrl-C during set-up: the guest is being stopped, the scenario must not start.
      if (stoppedBy) throw new InterruptedError(stoppedBy);
      return session;
    } catch (err) {
      await session.shutdown();
      if (stoppedBy && !(err instanceof InterruptedError)) throw new InterruptedError(stoppedBy);
      throw err;
    }
  }

  private startedAt = 0;

  private async start(opts: BootOptions): Promise<void> {
    const { progress } = opts;
    const began = performance.now();
    this.startedAt = began;
    progress.start('image', 'kernel, agent and initramfs');
    checkKernelFiles(this.profile);
    this.kernel = await resolveKernel(this.profile, progress);
    checkKernel(this.kernel, this.profile);
    const agent = await buildAgent(progress);
    this.image = await buildImage(this.kernel, agent, progress);
    const lacking = missingModules(this.image.modules, requiredModuleGroups(this.profile));
    if (lacking.length) {
      throw new KernelError(
        `kernel ${this.kernel.release} (${this.kernel.origin}) has neither as a module nor built in:\n  ${lacking.join('\n  ')}\n` +
          `fix: build the kernel with these options (profiles/daxlab.config has them) or choose another kernel.`,
      );
    }
    this.timings.image = Math.round(performance.now() - began);
    progress.done('image', this.timings.image, this.image.cached ? 'cached' : `built ${path.basename(this.image.path)}`);

    this.accel = await decideAccel(this.profile.accel, this.kernel.release);
    if (opts.nvdimmTemplate !== false) {
      this.templateInputs = templateInputs(this.profile, this.kernel.release, await qemuVersion());
      this.template = findTemplate(this.templateInputs);
      if (this.template) this.nvdimmSource = { kind: 'template', dir: this.template.dir };
      else progress.log('nvdimm', `no NVDIMM template for this profile yet: ndctl and mkfs.${this.profile.fs.type} run in the guest, the result is kept for the next boots`);
    }
    const decision = this.accel as AccelDecision & { key: string };
    progress.log('accel', `${this.accel.accel}: ${this.accel.reason}`);
    // A KVM probe may fall back to TCG: the state's accel is known only after it.
    const warmOff =
      opts.warmStart === false ? 'warm start off for this boot' : !this.profile.warmStart ? `profile ${this.profile.name} has "warmStart": false` : process.env.DAXLAB_COLD === '1' ? 'DAXLAB_COLD=1' : null;
    this.warmWanted = !warmOff && this.template !== null && !this.accel.probe;
    if (!this.warmWanted) {
      this.warm = { kind: 'cold', why: warmOff ?? (this.template === null ? 'no NVDIMM template yet (this boot makes it)' : 'KVM is being probed') };
    }
    try {
      await this.bootWarmOrCold(this.accel.accel, progress, this.accel.probe ? KVM_PROBE_MS : parseDuration(this.profile.bootTimeout));
      if (this.accel.probe) rememberAccel(decision.key, 'kvm', 'KVM booted the guest');
    } catch (err) {
      // A KVM boot cut short by Ctrl-C or SIGTERM says nothing about KVM: no fallback, no memo.
      if (!this.accel.probe || stoppedBy) throw stoppedBy ? new InterruptedError(stoppedBy) : err;
      const why = `KVM did not boot the guest (${(err as Error).message.split('\n')[0]}): using TCG`;
      progress.log('accel', why);
      rememberAccel(decision.key, 'tcg', why);
      await this.stopQemu();
      this.accel = { accel: 'tcg', reason: why, probe: false };
      await this.bootOnce('tcg', progress, parseDuration(this.profile.bootTimeout));
    }
    if (!this.ready.btf) {
      // Every struct offset the observer uses comes from BTF: without it the lab sees nothing.
      throw new KernelError(
        `kernel ${this.ready.release} (${this.kernel.origin}) has no /sys/kernel/btf/vmlinux: the observer takes every struct offset from BTF.\n` +
          `fix: build it with CONFIG_DEBUG_INFO_BTF=y (profiles/daxlab.config has it with its dependencies; pahole from the dwarves package is needed for the build).`,
      );
    }
    if (this.warm.kind === 'restored') {
      this.hello = helloResult.parse(this.warmState!.meta.hello);
      progress.done('setup', 0, `restored: ${this.hello.mount.device} on ${this.hello.mount.mountpoint} as saved ${this.warm.savedAt}`);
    } else {
      await this.setup(progress);
      if (this.warmSaveTo) await this.saveWarm(progress);
    }
    this.timings.total = Math.round(performance.now() - began);
  }

  /** The set-up request, as the agent gets it (it is part of a warm start's key too). */
  private setupRequest() {
    return {
      cmd: 'setup' as const,
      // The kernel's own load order (softdeps resolved on the host): the agent has been
      // loading it since it started (the kernel command line names it); set-up waits for it.
      modules: this.moduleOrder,
      nvdimms: this.profile.nvdimms.map((n, slot) => ({ slot, mode: n.mode })),
      fs: { type: this.profile.fs.type, mkfs: this.profile.fs.mkfsOptions, mount: this.profile.fs.mountOptions },
      sysctls: Object.fromEntries(Object.entries(this.profile.sysctls).map(([k, v]) => [k, String(v)])),
    };
  }

  /**
   * Save the set-up guest for later boots (warmStart.ts): stop it, migrate it into state.bin
   * of the directory QEMU runs in, and let it go on; this run is the saved guest's own. A save
   * that fails is said and dropped: the run goes on, the next boot is cold again.
   */
  private async saveWarm(progress: Progress): Promise<void> {
    const saveFile = this.warmSaveTo!;
    this.warmSaveTo = null;
    const began = performance.now();
    progress.start('warm', 'saving the set-up guest for the next boots (warm start)');
    this.saving = true;
    let status = 'not started';
    let stats = '';
    try {
      ({ status, stats } = await migrateStopped(this.qmp));
    } finally {
      await this.qmp.execute('cont').catch(() => {});
      this.watchdog.resumed();
      this.saving = false;
    }
    const saveMs = Math.round(performance.now() - began);
    if (!status.startsWith('completed')) {
      fs.rmSync(saveFile.dir, { recursive: true, force: true });
      progress.done('warm', saveMs, `not saved (migration ${status}): the next boot is cold again`);
      this.warm = { kind: 'cold', why: `the save failed: ${status}` };
      return;
    }
    const kept = keepWarmState({ dir: saveFile.dir, consoleLog: this.files.consoleLog }, this.warmInputs!, {
      profile: this.profile.name,
      savedAt: new Date().toISOString(),
      hello: this.hello,
      savedBoot: { agentHello: this.timings.agentHello, accel: this.accel.accel },
      saveMs,
    });
    this.warm = { kind: 'saved', key: kept.key, dir: kept.dir, bytes: kept.meta.bytes, saveMs };
    progress.done('warm', saveMs, `saved ${(kept.meta.bytes / 2 ** 20).toFixed(0)} MiB to ${kept.dir}${stats}: the next boots restore it`);
  }

  /** A restore that fails drops its state and the guest boots cold. */
  private async bootWarmOrCold(accel: Accel, progress: Progress, timeoutMs: number): Promise<void> {
    try {
      await this.bootOnce(accel, progress, timeoutMs);
    } catch (err) {
      const state = this.warmState;
      if (!state || stoppedBy || !(err instanceof BootError)) throw err;
      const why = err.message.split('\n')[0]!;
      progress.log('warm', `the warm start ${state.dir} did not restore (${why}): it is removed and not saved again; booting cold`);
      dropWarmState(state, why);
      await this.stopQemu();
      this.warmWanted = false;
      this.warmState = null;
      this.warm = { kind: 'cold', why: `the warm start did not restore: ${why}` };
      await this.bootOnce(accel, progress, timeoutMs);
    }
  }

  private async bootOnce(accel: Accel, progress: Progress, timeoutMs: number): Promise<void> {
    const began = performance.now();
    if (stoppedBy) throw new InterruptedError(stoppedBy);
    progress.start('qemu', `starting QEMU (${accel})`);
    if (!this.template) {
      for (const [i, file] of this.files.nvdimmFiles.entries()) {
        // Fresh sparse backing files: no namespace metadata left from another boot.
        fs.rmSync(file, { force: true });
        fs.writeFileSync(file, '');
        fs.truncateSync(file, parseSize(this.profile.nvdimms[i]!.size));
      }
    }
    fs.rmSync(this.files.consoleLog, { force: true });
    const argvOpts = {
      profile: this.profile,
      accel,
      kernelImage: this.kernel.vmlinux ?? this.kernel.bzImage,
      initrd: this.image.path,
      // The template's files, mapped private: this run's writes stay in QEMU's memory.
      files: this.template ? { ...this.files, nvdimmFiles: this.template.files } : this.files,
      privateNvdimms: this.template !== null,
      // The agent starts loading the profile's modules as it starts, beside the channel.
      kernelParams: [`daxlab.modules=${this.moduleOrder.join(',')}`],
      name: `daxlab-${this.runId}`,
    };
    let argv = qemuArgv(argvOpts);
    // QEMU's fd 3: the warm state to restore from.
    let stateFd: number | null = null;
    this.warmState = null;
    if (this.warmWanted) {
      this.warmInputs = warmInputs({
        qemuVersion: await qemuVersion(),
        argv,
        runPaths: { consoleLog: this.files.consoleLog, runDir: this.runDir, socketDir: this.files.socketDir, runId: this.runId },
        files: [argvOpts.kernelImage, argvOpts.initrd, ...this.template!.files],
        setup: this.setupRequest(),
        accel,
      });
      this.warmState = findWarmState(this.warmInputs);
      const failed = this.warmState ? null : warmFailed(this.warmInputs);
      if (failed) this.warm = { kind: 'cold', why: `a warm start of these inputs did not restore (${failed}): not saved again` };
      if (this.warmState) {
        // The saved boot's console log first: the kernel's boot messages are the same guest's.
        fs.copyFileSync(this.warmState.consoleLog, this.files.consoleLog);
        fs.appendFileSync(this.files.consoleLog, `\n--- daxlab: this guest was restored from the warm start saved ${this.warmState.meta.savedAt} (${this.warmState.dir}); what follows is this run ---\n`);
        argv = qemuArgv({ ...argvOpts, consoleAppend: true, incoming: 'fd:3' });
        stateFd = fs.openSync(this.warmState.state, 'r');
      } else if (!failed) {
        this.warm = { kind: 'cold', why: 'no warm start saved for these inputs yet: this boot saves one after set-up' };
        this.warmSaveTo = warmSaveDir();
      }
    }
    fs.writeFileSync(path.join(this.runDir, 'qemu.argv.json'), JSON.stringify(['qemu-system-x86_64', ...argv], null, 1));
    this.timings.host = Math.round(performance.now() - this.startedAt);
    // A save writes state.bin in its directory (WARM_SAVE_URI); every other path QEMU gets is absolute.
    const qemu = startQemu(argv, { runDir: this.runDir, cwd: this.warmSaveTo?.dir, stateFd });
    this.child = qemu.child;
    this.hasExited = false;
    this.exited = qemu.exited.then((info) => {
      this.hasExited = true;
      this.exitInfo = info;
      this.watchdog.stop();
      if (!this.stopping && this.ready) this.loseGuest(`${this.exitInfo}, while the lab was running`);
    });
    this.watchdog.start();
    const panic = watchConsoleForPanic(this.files.consoleLog);
    const exitedEarly = Promise.race([
      this.exited.then(() => this.exitInfo),
      panic.seen.then((line) => `the guest kernel panicked while booting: ${line}`),
    ]).then((why) => {
      throw new BootError(why, this.files.consoleLog, consoleTail(this.files.consoleLog));
    });
    // A QEMU gone early ends this attempt's connection loops too: left running, they would
    // connect to the sockets of the next attempt's QEMU (the KVM -> TCG fallback reuses the
    // paths) and hold its only QMP slot.
    const attempt = new AbortController();
    exitedEarly.catch(() => attempt.abort(new Error(this.exitInfo || 'QEMU is gone')));

    this.qmp = await Promise.race([Qmp.connectWithin(qmpSocket(this.files), 10_000, attempt.signal, timeoutMs), exitedEarly]);
    this.timings.qemuStart = Math.round(performance.now() - began);
    progress.done('qemu', this.timings.qemuStart);
    this.channel = await Promise.race([AgentChannel.connect(agentSocket(this.files), 10_000, attempt.signal), exitedEarly]);
    this.channel.on('line', () => this.watchdog.agentLine());
    this.channel.on('message', (msg) => this.watchdog.agentMessage(msg));
    this.recordTranscript();
    if (this.warmState) {
      await this.restoreWarm(progress, timeoutMs, began, exitedEarly).finally(panic.stop);
      return;
    }
    progress.start('kernel', 'booting the guest kernel');
    const ready = this.channel.waitFor('ready', timeoutMs);
    ready.catch(() => {});
    this.ready = await Promise.race([ready, exitedEarly]).finally(panic.stop).catch((err: Error) => {
      if (err instanceof BootError) throw err;
      throw new BootError(
        `boot watchdog: the guest agent did not start within ${Math.round(timeoutMs / 1000)} s (${accel})`,
        this.files.consoleLog,
        consoleTail(this.files.consoleLog),
      );
    });
    const { initStart, modulesDone, agentStart } = this.ready.uptime;
    // The guest's uptime starts after firmware and decompression: take the kernel stage from
    // the host clock (QEMU up -> agent ready) less the init time the guest measured.
    this.timings.init = Math.round((agentStart - initStart) * 1000);
    this.timings.kernel = Math.round(performance.now() - began) - this.timings.qemuStart - this.timings.init;
    progress.done('kernel', this.timings.kernel, `${this.ready.release}, init ${this.timings.init} ms (channel up after ${Math.round((modulesDone - initStart) * 1000)} ms)`);
    this.timings.agentHello = Math.round(performance.now() - began);
  }

  /**
   * The guest comes back from the saved state: QEMU loads it, we let it run (it was saved
   * stopped), the agent answers "ready" again. The set-up reply is the saved boot's.
   */
  private async restoreWarm(progress: Progress, timeoutMs: number, began: number, exitedEarly: Promise<never>): Promise<void> {
    const state = this.warmState!;
    progress.start('kernel', `restoring the set-up guest saved ${state.meta.savedAt} (warm start, ${(state.meta.bytes / 2 ** 20).toFixed(0)} MiB)`);
    const deadline = Date.now() + timeoutMs;
    const running = runLoaded(this.qmp, deadline).catch((err: Error) => {
      throw new BootError(`the warm start did not load: ${err.message}`, this.files.consoleLog, consoleTail(this.files.consoleLog));
    });
    await Promise.race([running, exitedEarly]);
    const restoreMs = Math.round(performance.now() - began) - this.timings.qemuStart;
    const ready = this.channel.waitFor('ready', timeoutMs);
    ready.catch(() => {});
    const answered = this.channel.request({ cmd: 'ready' }, timeoutMs);
    answered.catch(() => {});
    const silent = (err: Error) => {
      if (err instanceof BootError) throw err;
      throw new BootError(`the restored guest's agent did not answer: ${err.message}`, this.files.consoleLog, consoleTail(this.files.consoleLog));
    };
    const again = await Promise.race([ready, exitedEarly]).catch(silent);
    await Promise.race([answered, exitedEarly]).catch(silent);
    this.ready = again;
    this.timings.kernel = restoreMs;
    this.timings.init = 0;
    this.timings.agentHello = Math.round(performance.now() - began);
    this.warm = { kind: 'restored', key: state.key, dir: state.dir, bytes: state.meta.bytes, savedAt: state.meta.savedAt, restoreMs };
    progress.done('kernel', restoreMs, `${this.ready.release}, restored (the saved boot took ${state.meta.savedBoot.agentHello} ms to its hello)`);
  }

  private async setup(progress: Progress): Promise<void> {
    const began = performance.now();
    const fsType = this.profile.fs.type;
    const base = this.setupRequest();
    const request = (command: SetupCommand) =>
      this.channel.request(command, 300_000).catch((err: Error) => {
        if (this.lostSignal.aborted) throw this.lostSignal.reason;
        // The namespaces were looked for on a template (booted, or made by this boot): a
        // template they were not found on is removed, and the next boot makes it again.
        const src = this.nvdimmSource;
        const used = command.prepared && src.kind !== 'fresh' ? src.dir : null;
        if (used) fs.rmSync(used, { recursive: true, force: true });
        throw new BootError(
          `lab set-up failed in the guest: ${err.message}` + (used ? `\nthe NVDIMM template ${used} is removed: the next boot makes it again` : ''),
          this.files.consoleLog,
          consoleTail(this.files.consoleLog, 15),
        );
      });
    let made: Partial<HelloResult['timings']> | null = null;
    if (!this.template && this.templateInputs) {
      // First boot of this profile: namespaces and mkfs in the guest, stop before the mount,
      // keep the files as the template, then go on as every later boot does (prepared).
      progress.start('setup', `namespaces, mkfs.${fsType} (once for this profile: kept as its NVDIMM template)`);
      made = helloResult.shape.timings.partial().parse(((await request({ ...base, prepared: false, mount: false })) as { timings: unknown }).timings);
      const t0 = performance.now();
      const saved = await saveTemplate(this.templateInputs, this.files.nvdimmFiles);
      const diskBytes = templateDiskBytes(saved);
      this.nvdimmSource = { kind: 'made', dir: saved.dir, diskBytes };
      progress.done('setup', Math.round(performance.now() - began), `template ${saved.dir} (${(diskBytes / 2 ** 20).toFixed(1)} MiB on disk, saved in ${Math.round(performance.now() - t0)} ms)`);
    }
    const prepared = made !== null || this.template !== null;
    progress.start('setup', prepared ? `mount -o ${this.profile.fs.mountOptions.join(',')} (namespaces and ${fsType} from the NVDIMM template)` : `namespaces, mkfs.${fsType}, mount -o ${this.profile.fs.mountOptions.join(',')}`);
    const result = await request({ ...base, prepared, mount: true });
    this.hello = helloResult.parse(result);
    const t = this.hello.timings;
    this.timings.modules = Math.round(t.modules);
    this.timings.moduleWait = Math.round(t.moduleWait ?? 0);
    this.timings.namespace = Math.round(t.namespace + (made?.namespace ?? 0));
    this.timings.mkfs = Math.round(t.mkfs + (made?.mkfs ?? 0));
    this.timings.mount = Math.round(t.mount);
    this.timings.agentHello += Math.round(performance.now() - began);
    progress.done('setup', Math.round(performance.now() - began), `${this.hello.mount.device} on ${this.hello.mount.mountpoint}`);
  }

  /** The profile's modules in the order the agent loads them ("?name": a softdep). */
  get moduleOrder(): string[] {
    return moduleLoadOrder(this.image.modules, requiredModuleGroups(this.profile));
  }

  /** The NVDIMM template's files this boot used, or null (fresh backing files). */
  get templateFiles(): string[] | null {
    return this.template?.files ?? null;
  }

  get transcript(): string {
    return path.join(this.runDir, 'transcript.jsonl');
  }

  private recordTranscript(): void {
    this.feed?.detach();
    this.recorder?.close();
    this.recorder = TranscriptRecorder.open(this.transcript);
    this.feed = attachRecorder(this.channel, this.recorder);
    this.feed.note({
      kind: 'run-start',
      runId: this.runId,
      profile: this.profile.name,
      kernel: this.kernel.origin,
      wall: new Date().toISOString(),
    });
  }

  /** Stop the guest cleanly if it answers, by force if not; always reap and clean up. */
  shutdown(): Promise<void> {
    if (!this.stopping) {
      const lost = this.lostSignal.aborted ? { reason: (this.lostSignal.reason as Error).message.split('\n')[0] } : {};
      this.feed?.note({ kind: 'run-end', status: this.lostSignal.aborted ? 'lost' : 'shutdown', ...lost, wall: new Date().toISOString() });
    }
    this.stopping ??= this.stopQemu().finally(() => {
      this.watchdog.stop();
      this.feed?.detach();
      this.recorder?.close();
      for (const file of this.files.nvdimmFiles) fs.rmSync(file, { force: true });
      // A save that never happened (set-up failed, Ctrl-C): its file goes.
      if (this.warmSaveTo) fs.rmSync(this.warmSaveTo.dir, { recursive: true, force: true });
      fs.rmSync(this.files.socketDir, { recursive: true, force: true });
      // A run directory keeps the console log and the transcript; one with neither goes.
      releaseOwned(this.runDir, { removeIfEmpty: true });
      live.delete(this);
    });
    return this.stopping;
  }

  /** The guest is gone: say why with the last state and the console, and end QEMU now. */
  private loseGuest(why: string): void {
    if (this.lostSignal.aborted) return;
    const last = this.watchdog.lastSeen();
    const tail = consoleTail(this.files.consoleLog, 15);
    const error = new GuestLostError(
      `the guest stopped running: ${why}; ${last}\n--- console tail (${this.files.consoleLog}) ---\n${tail || '(empty)'}\nwhat ran so far: ${this.transcript}`,
    );
    this.watchdog.stop();
    // SIGKILL ends a stopped process too; the channel closes and every wait ends.
    if (this.child && !this.hasExited) this.child.kill('SIGKILL');
    this.lostController.abort(error);
  }

  private async stopQemu(): Promise<void> {
    if (!this.child || this.hasExited) {
      this.channel?.close();
      this.qmp?.close();
      return;
    }
    // Unref'd timers: a pending sleep must not keep the process alive after QEMU is gone.
    const waitExit = (ms: number) =>
      Promise.race([this.exited.then(() => true), sleep(ms, false, { ref: false })]);
    // A guest whose agent answers powers off cleanly (sync, umount); one that never got
    // that far is stopped through QMP at once.
    const agentUp = this.ready !== undefined && this.channel && !this.channel.closed;
    if (agentUp) await this.channel.request({ cmd: 'poweroff' }, 3000).catch(() => {});
    if (!(agentUp && (await waitExit(5000))) && this.qmp) {
      // QEMU may be gone already (killed under us): its exit ends the wait, an unref'd sleep alone would not.
      await Promise.race([this.qmp.execute('quit').catch(() => {}), sleep(2000, undefined, { ref: false }), this.exited]);
    }
    if (!(await waitExit(3000))) {
      this.child.kill('SIGKILL');
      // A QEMU that SIGKILL does not let us reap (a tracer holds its threads) must not hang
      // us: pdeathsig still ends it with us.
      if (!(await waitExit(10_000))) process.stderr.write(`daxlab: QEMU (pid ${this.child.pid}) was sent SIGKILL and has not been reaped after 10 s\n`);
    }
    this.channel?.close();
    this.qmp?.close();
  }

  /** Synchronous last resort from process.on('exit'). */
  killNow(): void {
    if (this.child && !this.hasExited) this.child.kill('SIGKILL');
    this.recorder?.close();
    fs.rmSync(this.files.socketDir, { recursive: true, force: true });
    for (const file of this.files.nvdimmFiles) fs.rmSync(file, { force: true });
    if (this.warmSaveTo) fs.rmSync(this.warmSaveTo.dir, { recursive: true, force: true });
    releaseOwned(this.runDir, { removeIfEmpty: true });
  }

  get qemuPid(): number | undefined {
    return this.child?.pid;
  }
}
