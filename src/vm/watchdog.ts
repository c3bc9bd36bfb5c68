// The host's watch over a running guest: QEMU's process state, QMP answering, and the
// agent's own heartbeat. A guest that stops running (QEMU stopped or wedged, a hung guest
// kernel, frozen vCPUs) is called lost with what was seen last; the session ends the run
// as "could not test", never as a finding.
import fs from 'node:fs';
import type { AgentMessage } from '../wire/protocol.js';
import type { Qmp } from './qmp.js';

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

/** What the watchdog asks of the session it watches. */
export type WatchedGuest = {
  /** QEMU's pid while it runs and is not being stopped by us, else undefined. */
  pid(): number | undefined;
  qmp(): Qmp | null;
  /** The agent said "ready": from then on it beats. */
  agentUp(): boolean;
  /** QEMU holds the guest stopped on purpose (a warm start being saved): its silence is ours. */
  heldStill(): boolean;
  lose(why: string): void;
};

export class GuestWatchdog {
  private timer: NodeJS.Timeout | null = null;
  /** Host time of the agent's latest line (any line: every one is sent from its loop). */
  private lastAgentAt = 0;
  private lastHeartbeat: Extract<AgentMessage, { kind: 'heartbeat' }> | null = null;
  private lastQmpStatus: string | null = null;
  private lastAgentMessage: AgentMessage | null = null;
  private lastSnapshot: Extract<AgentMessage, { kind: 'snapshot' }> | null = null;

  constructor(private readonly guest: WatchedGuest) {}

  agentLine(): void {
    this.lastAgentAt = Date.now();
  }

  agentMessage(msg: AgentMessage): void {
    if (msg.kind === 'heartbeat') this.lastHeartbeat = msg;
    else this.lastAgentMessage = msg;
    if (msg.kind === 'snapshot') this.lastSnapshot = msg;
  }

  /** The guest was held still on purpose: its silence until now does not count. */
  resumed(): void {
    this.lastAgentAt = Date.now();
  }

  start(): void {
    this.stop();
    let stoppedSince: number | null = null;
    let qmpAsked: number | null = null;
    let lastTick = Date.now();
    this.timer = setInterval(() => {
      const pid = this.guest.pid();
      if (!pid) return;
      const now = Date.now();
      // Late ourselves (the host was starved, our loop was busy): the guest gets a fresh window.
      if (now - lastTick > HOST_STALL_MS) this.lastAgentAt = Math.max(this.lastAgentAt, now);
      lastTick = now;
      const state = processState(pid);
      if (state === 'T' || state === 't') {
        stoppedSince ??= now;
        if (now - stoppedSince >= STOPPED_FOR_MS) {
          this.guest.lose(`QEMU (pid ${pid}) is stopped (state ${state}: SIGSTOP or a debugger) and has not run for ${Math.round((now - stoppedSince) / 1000)} s`);
        }
        return;
      }
      stoppedSince = null;
      // The agent beats once a second from "ready" on: a long silence is a guest that stopped.
      if (this.guest.agentUp() && this.lastAgentAt && !this.guest.heldStill() && now - this.lastAgentAt >= AGENT_SILENT_MS) {
        this.guest.lose(this.agentSilence(now));
        return;
      }
      const qmp = this.guest.qmp();
      if (!qmp) return;
      if (qmpAsked !== null) {
        if (now - qmpAsked >= QMP_SILENT_MS) this.guest.lose(`QEMU (pid ${pid}) has not answered QMP for ${Math.round((now - qmpAsked) / 1000)} s`);
        return;
      }
      qmpAsked = now;
      qmp
        .execute('query-status')
        .then((status) => {
          qmpAsked = null;
          const s = status as { status?: string } | undefined;
          this.lastQmpStatus = s?.status ?? null;
          if (s?.status && ['internal-error', 'guest-panicked', 'io-error', 'shutdown'].includes(s.status)) {
            this.guest.lose(`QEMU reports the guest as "${s.status}"`);
          }
        })
        .catch(() => {});
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
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

  /** The last thing the guest showed: its last snapshot's actors, or its last message. */
  lastSeen(): string {
    return this.lastSnapshot
      ? `last snapshot #${this.lastSnapshot.seq} at guest t=${this.lastSnapshot.t.toFixed(2)} s: ${
          this.lastSnapshot.actors.map((a) => `${a.name} ${a.state}${a.wchan ? ` in ${a.wchan}` : ''}`).join(', ') || 'no actors'
        }`
      : this.lastAgentMessage
        ? `last message from the agent: ${this.lastAgentMessage.kind} at guest t=${this.lastAgentMessage.t.toFixed(2)} s`
        : 'the agent had not spoken yet';
  }
}

/** A process's state letter from /proc/<pid>/stat (R, S, D, T stopped, Z), or null. */
export function processState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || null;
  } catch {
    return null;
  }
}

/**
 * A guest kernel that panics while it boots does not always end QEMU: panic=-1 reboots and
 * -no-reboot turns that into an exit, but a panic in an interrupt on a TCG guest (the 7.2
 * int3 oops in sched_clock_cpu during text patching, session 7 CI) can hang on the way.
 * Watch the console for the panic line until the agent is ready, so that the boot fails at
 * once with the kernel's own words instead of a watchdog timeout minutes later.
 */
export function watchConsoleForPanic(consoleLog: string, everyMs = 250): { seen: Promise<string>; stop: () => void } {
  let offset = 0;
  let timer: NodeJS.Timeout | null = null;
  const seen = new Promise<string>((resolve) => {
    timer = setInterval(() => {
      let fd: number | null = null;
      try {
        fd = fs.openSync(consoleLog, 'r');
        const size = fs.fstatSync(fd).size;
        if (size <= offset) return;
        // a line may straddle two reads: keep 200 bytes of overlap
        const from = Math.max(0, offset - 200);
        const buf = Buffer.alloc(size - from);
        fs.readSync(fd, buf, 0, buf.length, from);
        offset = size;
        const line = /Kernel panic - not syncing:[^\n]*/.exec(buf.toString('utf8'));
        if (line) resolve(line[0].trim());
      } catch {
        // no console yet
      } finally {
        if (fd !== null) fs.closeSync(fd);
      }
    }, everyMs);
    timer.unref();
  });
  return { seen, stop: () => timer && clearInterval(timer) };
}
