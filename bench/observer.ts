// Observer benchmark: what sampling costs the guest, and how late events reach the host.
// 64 watched pages over 3 files; agent CPU and guest busy time idle, at 10 Hz and at 50 Hz,
// as ratios to the idle guest measured in the same run; event -> host latency p50/p99.
import { LabDriver } from '../src/lab/driver.js';
import { loadProfile } from '../src/config/profiles.js';
import type { AgentMessage } from '../src/wire/protocol.js';
import { silentProgress } from '../src/vm/progress.js';
import { GuestSession } from '../src/vm/session.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

type CpuSample = { agentTicks: number; busy: number; total: number };

async function cpu(lab: LabDriver, agentPid: string): Promise<CpuSample> {
  const [stat, self] = await Promise.all([lab.busybox('cat', '/proc/stat'), lab.busybox('cat', `/proc/${agentPid}/stat`)]);
  const fields = stat.stdout.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3]! + fields[4]!;
  const total = fields.reduce((a, b) => a + b, 0);
  const after = self.stdout.slice(self.stdout.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat: 12 and 13 after the state.
  return { agentTicks: Number(after[11]) + Number(after[12]), busy: total - idle, total };
}

async function measure(lab: LabDriver, agentPid: string, hz: number, seconds: number) {
  await lab.channel.request({ cmd: 'observe', hz });
  await sleep(500);
  const a = await cpu(lab, agentPid);
  await sleep(seconds * 1000);
  const b = await cpu(lab, agentPid);
  const total = b.total - a.total;
  return { agent: (b.agentTicks - a.agentTicks) / total, busy: (b.busy - a.busy) / total };
}

export async function observerBench(): Promise<void> {
  const session = await GuestSession.boot(loadProfile(process.env.BENCH_PROFILE ?? 'default'), { progress: silentProgress });
  try {
    const lab = new LabDriver(session.channel);
    const split = [22, 21, 21];
    for (const [i, n] of split.entries()) {
      const actor = `w${i}`;
      await lab.startActor(actor);
      await lab.ok(actor, { op: 'open', path: `bench${i}`, create: true, size: n * 4096 });
      await lab.ok(actor, { op: 'mmap', length: n * 4096, flags: ['MAP_SHARED'] });
      const pages = [...Array(n).keys()];
      await lab.ok(actor, { op: 'touch', pages, write: true });
      await lab.watchPages(actor, pages, `bench${i}`);
    }
    const agentPid = String(session.ready.pid);
    const seconds = Number(process.env.BENCH_SECONDS ?? 5);
    const idle = await measure(lab, agentPid, 0, seconds);
    const costs: number[] = [];
    const parts: Record<string, number[]> = {};
    const onSnap = (m: AgentMessage) => {
      if (m.kind !== 'snapshot' || m.costUs === undefined) return;
      costs.push(m.costUs);
      for (const [part, us] of Object.entries(m.costByPartUs ?? {})) (parts[part] ??= []).push(us);
    };
    session.channel.on('message', onSnap);
    const at10 = await measure(lab, agentPid, 10, seconds);
    const at50 = await measure(lab, agentPid, 50, seconds);
    await lab.channel.request({ cmd: 'observe', hz: 0 });
    session.channel.off('message', onSnap);
    const snap = await lab.sample();

    // Clock offset guest - host from the ping with the shortest round trip.
    let best = { rtt: Infinity, offset: 0 };
    let replyT = 0;
    const onReply = (m: AgentMessage) => m.kind === 'reply' && (replyT = m.t);
    session.channel.on('message', onReply);
    for (let i = 0; i < 30; i++) {
      const h0 = performance.now();
      await lab.channel.request({ cmd: 'ping' });
      const h1 = performance.now();
      if (h1 - h0 < best.rtt) best = { rtt: h1 - h0, offset: replyT * 1000 - (h0 + h1) / 2 };
    }
    session.channel.off('message', onReply);
    // Events: each drain of a spliced page fires the pipe-release kprobe in the guest.
    await lab.channel.request({ cmd: 'trace', events: [], kprobes: ['pipe'] });
    const latencies: number[] = [];
    const onEvent = (m: AgentMessage) => {
      if (m.kind === 'event' && /pipe_buf_release/.test(m.name)) latencies.push(performance.now() - (m.t * 1000 - best.offset));
    };
    session.channel.on('message', onEvent);
    for (let i = 0; i < 100; i++) {
      await lab.ok('w0', { op: 'vmsplice', pages: [0] });
      await lab.ok('w0', { op: 'drain' });
    }
    await sleep(500);
    session.channel.off('message', onEvent);

    const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(8);
    console.log(`\nobserver benchmark: ${snap.pages.length} watched pages, ${new Set(snap.pages.map((p) => p.file)).size} files, accel ${session.accel.accel}, ${seconds} s per rate`);
    console.log('rate      agent CPU   guest busy   busy / idle guest');
    for (const [name, m] of [['idle', idle], ['10 Hz', at10], ['50 Hz', at50]] as const) {
      console.log(`${name.padEnd(8)} ${pct(m.agent)}   ${pct(m.busy)}     ${(m.busy / idle.busy).toFixed(2)}`);
    }
    console.log(`snapshot cost in the agent: p50 ${quantile(costs, 0.5)} us, p99 ${quantile(costs, 0.99)} us (${costs.length} snapshots)`);
    console.log(`  p50 by part: ${Object.entries(parts).map(([k, v]) => `${k} ${quantile(v, 0.5)} us`).join(', ')}`);
    console.log(
      `event -> host latency: p50 ${quantile(latencies, 0.5).toFixed(2)} ms, p99 ${quantile(latencies, 0.99).toFixed(2)} ms ` +
        `(${latencies.length} events; clock offset from the fastest of 30 pings, rtt ${best.rtt.toFixed(2)} ms)`,
    );
  } finally {
    await session.shutdown();
  }
}

