// One booted guest: QEMU started from a profile, its agent channel and QMP socket, the lab
// set up inside (namespace, mkfs, mount -o dax). Whatever happens — Ctrl-C, SIGTERM, an
// exception of ours, a hung boot — QEMU is stopped and reaped and its sockets removed;
// the console log stays in the run directory.
import { execa, type ResultPromise } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Profile } from '../config/profiles.js';
import type { AgentMessage } from '../wire/protocol.js';
import { markOwned, releaseOwned, sweepDeadRuns } from './sweep.js';
import { checkInputFile } from '../inputs.js';
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
import { checkKernel, KernelError, resolveKernel, type Kernel } from './kernel.js';
import type { Progress } from './progress.js';
import { Qmp } from './qmp.js';
import { agentSocket, qemuArgv, qmpSocket, type Accel, type RunFiles } from './qemu.js';

/** A KVM boot that has not reached the agent by then is taken as KVM not working here. */
const KVM_PROBE_MS = 30_000;

/**
 * The guest's heartbeat, read from the host: QEMU's process state (a stopped QEMU is
 * state T in /proc) and QMP answering query-status. A guest that does neither for this
 * long is lost: the run ends at once as "could not test", with what was seen last.
 */
const HEARTBEAT_MS = 1000;
const STOPPED_FOR_MS = 3000;
const QMP_SILENT_MS = 15_000;
/**
 * The agent's own heartbeat (src/vm/guest/agent.c): one a second from a thread of its
 * own, after its "ready". An agent that sends nothing for this long has stopped running
 * (a hung guest kernel, frozen vCPUs, a stopped agent) although QEMU runs and answers
 * QMP. The beat used to come from the agent's main loop: on a fresh, loaded TCG host one
 * "trace" command (kernel-text scans and kprobe registration) kept that loop from a beat
 * point for 10.6 s, and the guest was called lost (session 4 CI). A stuck main loop now
 * shows as a growing stallMs in the beats, and its command times out.
 */
export const AGENT_SILENT_MS = 10_000;
/** Our own timer firing this late means the host did not run us: no one to blame in the guest. */
const HOST_STALL_MS = 3000;

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

// Every live QEMU of this process, for the exit paths.
const live = new Set<GuestSession>();
let handlersInstalled = false;
let stoppedBy: NodeJS.Signals | null = null;

/** The signal that is stopping us (Ctrl-C, SIGTERM), or null: nothing may start after one. */
export function interruption(): NodeJS.Signals | null {
  return stoppedBy;
}

function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    // Stay subscribed (process.on, not once): with no listener left, a second signal, or
    // signal-exit inside execa, would kill us before QEMU is reaped.
    if (stopping) return;
    stopping = true;
    stoppedBy = signal;
    process.stderr.write(`\ndaxlab: ${signal}: stopping the guest\n`);
    void Promise.allSettled([...live].map((s) => s.shutdown())).then(() => process.exit(code));
    // A shutdown that hangs must not keep us alive: the exit hook kills what is left.
    setTimeout(() => process.exit(code), 15_000).unref();
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('SIGHUP', () => onSignal('SIGHUP', 129));
  // Last resort on any exit, including an exception of ours: kill and reap synchronously.
  process.on('exit', () => {
    for (const s of live) s.killNow();
  });
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
};

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
  private heartbeat: NodeJS.Timeout | null = null;
  private lastAgentMessage: AgentMessage | null = null;
  /** Host time of the agent's latest line (any line: every one is sent from its loop). */
  private lastAgentAt = 0;
  private lastHeartbeat: Extract<AgentMessage, { kind: 'heartbeat' }> | null = null;
  private lastQmpStatus: string | null = null;
  private lastSnapshot: Extract<AgentMessage, { kind: 'snapshot' }> | null = null;
  private readonly lostController = new AbortController();
  /** Aborted (with a GuestLostError) when the guest stops running under us. */
  readonly lostSignal = this.lostController.signal;
  /** Rejects with the GuestLostError when the guest is lost; never resolves. */
  readonly lost: Promise<never> = new Promise((_, reject) => this.lostSignal.addEventListener('abort', () => reject(this.lostSignal.reason)));

  private constructor(readonly profile: Profile) {
    this.lost.catch(() => {});
    // What dead runs of ours left (kill -9: no handler ran) goes before we add our own.
    sweepDeadRuns(path.join(paths.state, 'runs'));
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
    try {
      await this.bootOnce(this.accel.accel, progress, this.accel.probe ? KVM_PROBE_MS : parseDuration(this.profile.bootTimeout));
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
    await this.setup(progress);
    this.timings.total = Math.round(performance.now() - began);
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
    const argv = qemuArgv({
      profile: this.profile,
      accel,
      kernelImage: this.kernel.vmlinux ?? this.kernel.bzImage,
      initrd: this.image.path,
      // The template's files, mapped private: this run's writes stay in QEMU's memory.
      files: this.template ? { ...this.files, nvdimmFiles: this.template.files } : this.files,
      privateNvdimms: this.template !== null,
      // The agent starts loading the profile's modules as it starts, beside the channel.
      kernelParams: [`daxlab.modules=${moduleLoadOrder(this.image.modules, requiredModuleGroups(this.profile)).join(',')}`],
      name: `daxlab-${this.runId}`,
    });
    fs.writeFileSync(path.join(this.runDir, 'qemu.argv.json'), JSON.stringify(['qemu-system-x86_64', ...argv], null, 1));
    this.timings.host = Math.round(performance.now() - this.startedAt);
    // setpriv --pdeathsig: if we die without running any handler, the kernel kills QEMU.
    const child = execa('setpriv', ['--pdeathsig', 'KILL', '--', 'qemu-system-x86_64', ...argv], {
      stdin: 'ignore',
      stdout: { file: path.join(this.runDir, 'qemu.log') },
      stderr: 'pipe',
      reject: false,
      // Our own exit paths stop QEMU (cleanly when they can); pdeathsig covers the rest.
      cleanup: false,
    });
    this.child = child;
    this.hasExited = false;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      fs.appendFileSync(path.join(this.runDir, 'qemu.log'), chunk);
    });
    this.exited = child.then((r) => {
      this.hasExited = true;
      this.exitInfo = `QEMU exited (${r.signal ?? `code ${r.exitCode}`})${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
      this.stopHeartbeat();
      if (!this.stopping && this.ready) this.loseGuest(`${this.exitInfo}, while the lab was running`);
    });
    this.startHeartbeat();
    const exitedEarly = this.exited.then(() => {
      throw new BootError(this.exitInfo, this.files.consoleLog, consoleTail(this.files.consoleLog));
    });
    exitedEarly.catch(() => {});

    this.qmp = await Promise.race([retry(() => Qmp.connect(qmpSocket(this.files)), 10_000), exitedEarly]);
    this.timings.qemuStart = Math.round(performance.now() - began);
    progress.done('qemu', this.timings.qemuStart);
    this.channel = await Promise.race([AgentChannel.connect(agentSocket(this.files)), exitedEarly]);
    this.channel.on('line', () => {
      this.lastAgentAt = Date.now();
    });
    this.channel.on('message', (msg) => {
      if (msg.kind === 'heartbeat') this.lastHeartbeat = msg;
      else this.lastAgentMessage = msg;
      if (msg.kind === 'snapshot') this.lastSnapshot = msg;
    });
    this.recordTranscript();
    progress.start('kernel', 'booting the guest kernel');
    const ready = this.channel.waitFor('ready', timeoutMs);
    ready.catch(() => {});
    this.ready = await Promise.race([ready, exitedEarly]).catch((err: Error) => {
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

  private async setup(progress: Progress): Promise<void> {
    const began = performance.now();
    const fsType = this.profile.fs.type;
    const base = {
      cmd: 'setup' as const,
      // The kernel's own load order (softdeps resolved on the host): the agent has been
      // loading it since it started (the kernel command line names it); set-up waits for it.
      modules: moduleLoadOrder(this.image.modules, requiredModuleGroups(this.profile)),
      nvdimms: this.profile.nvdimms.map((n, slot) => ({ slot, mode: n.mode })),
      fs: { type: fsType, mkfs: this.profile.fs.mkfsOptions, mount: this.profile.fs.mountOptions },
      sysctls: Object.fromEntries(Object.entries(this.profile.sysctls).map(([k, v]) => [k, String(v)])),
    };
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
      this.stopHeartbeat();
      this.feed?.detach();
      this.recorder?.close();
      for (const file of this.files.nvdimmFiles) fs.rmSync(file, { force: true });
      fs.rmSync(this.files.socketDir, { recursive: true, force: true });
      // A run directory keeps the console log and the transcript; one with neither goes.
      releaseOwned(this.runDir, { removeIfEmpty: true });
      live.delete(this);
    });
    return this.stopping;
  }

  /** Watch that QEMU runs: the guest's heartbeat as the host can read it. */
  private startHeartbeat(): void {
    this.stopHeartbeat();
    let stoppedSince: number | null = null;
    let qmpAsked: number | null = null;
    let lastTick = Date.now();
    this.heartbeat = setInterval(() => {
      const pid = this.child?.pid;
      if (!pid || this.hasExited || this.stopping) return;
      const now = Date.now();
      // Late ourselves (the host was starved, our loop was busy): the guest gets a fresh window.
      if (now - lastTick > HOST_STALL_MS) this.lastAgentAt = Math.max(this.lastAgentAt, now);
      lastTick = now;
      const state = processState(pid);
      if (state === 'T' || state === 't') {
        stoppedSince ??= now;
        if (now - stoppedSince >= STOPPED_FOR_MS) {
          this.loseGuest(`QEMU (pid ${pid}) is stopped (state ${state}: SIGSTOP or a debugger) and has not run for ${Math.round((now - stoppedSince) / 1000)} s`);
        }
        return;
      }
      stoppedSince = null;
      // The agent beats once a second from "ready" on: a long silence is a guest that stopped.
      if (this.ready && this.lastAgentAt && now - this.lastAgentAt >= AGENT_SILENT_MS) {
        this.loseGuest(this.agentSilence(now));
        return;
      }
      if (!this.qmp) return;
      if (qmpAsked !== null) {
        if (now - qmpAsked >= QMP_SILENT_MS) this.loseGuest(`QEMU (pid ${pid}) has not answered QMP for ${Math.round((now - qmpAsked) / 1000)} s`);
        return;
      }
      qmpAsked = now;
      this.qmp
        .execute('query-status')
        .then((status) => {
          qmpAsked = null;
          const s = status as { status?: string } | undefined;
          this.lastQmpStatus = s?.status ?? null;
          if (s?.status && ['internal-error', 'guest-panicked', 'io-error', 'shutdown'].includes(s.status)) {
            this.loseGuest(`QEMU reports the guest as "${s.status}"`);
          }
        })
        .catch(() => {});
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Why an agent that went silent is taken as a lost guest, in words. */
  private agentSilence(now: number): string {
    const silent = Math.round((now - this.lastAgentAt) / 1000);
    const beat = this.lastHeartbeat
      ? `its last heartbeat was #${this.lastHeartbeat.seq} at guest t=${this.lastHeartbeat.t.toFixed(2)} s`
      : 'it sent no heartbeat at all';
    const qemu = this.lastQmpStatus ? `; QEMU says the guest is "${this.lastQmpStatus}"` : '';
    return `the guest agent has sent nothing for ${silent} s (it beats once a second; ${beat}${qemu}): the guest kernel hung or the agent is stuck`;
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** The guest is gone: say why with the last state and the console, and end QEMU now. */
  private loseGuest(why: string): void {
    if (this.lostSignal.aborted) return;
    const last = this.lastSnapshot
      ? `last snapshot #${this.lastSnapshot.seq} at guest t=${this.lastSnapshot.t.toFixed(2)} s: ${
          this.lastSnapshot.actors.map((a) => `${a.name} ${a.state}${a.wchan ? ` in ${a.wchan}` : ''}`).join(', ') || 'no actors'
        }`
      : this.lastAgentMessage
        ? `last message from the agent: ${this.lastAgentMessage.kind} at guest t=${this.lastAgentMessage.t.toFixed(2)} s`
        : 'the agent had not spoken yet';
    const tail = consoleTail(this.files.consoleLog, 15);
    const error = new GuestLostError(
      `the guest stopped running: ${why}; ${last}\n--- console tail (${this.files.consoleLog}) ---\n${tail || '(empty)'}\nwhat ran so far: ${this.transcript}`,
    );
    this.stopHeartbeat();
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
    releaseOwned(this.runDir, { removeIfEmpty: true });
  }

  get qemuPid(): number | undefined {
    return this.child?.pid;
  }
}

async function retry<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

/** A process's state letter from /proc/<pid>/stat (R, S, D, T stopped, Z), or null. */
function processState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || null;
  } catch {
    return null;
  }
}

/** A profile's own kernel files, before anything reads them: a directory is not a bzImage. */
function checkKernelFiles(profile: Profile): void {
  const k = profile.kernel;
  if (k.source !== 'path') return;
  checkInputFile(k.bzImage, `profile ${profile.name}: kernel.bzImage`);
  if (k.config) checkInputFile(k.config, `profile ${profile.name}: kernel.config`);
  if (k.modules && !(fs.existsSync(k.modules) && fs.statSync(k.modules).isDirectory())) {
    throw new BootError(`profile ${profile.name}: kernel.modules ${k.modules} is not a directory (the lib/modules/<release> of that kernel)`);
  }
}
