// Observer benchmark: what sampling costs the guest, and how late events reach the host.
// One guest, one run, every number side by side:
// - the idle guest (watch list set, observer stopped), measured before and after;
// - 64 watched pages over 3 files at 10 and 50 Hz with each of the agent's samplers:
//   "legacy" (every field its own kcore read, a pagemap read per page, every /proc file
//   opened per sample, every snapshot complete), "kcore" (session 6: block cache, batched
//   pagemap, stacks only when the task ran, snapshot deltas) and "kernel" (the default:
//   the block cache's blocks gathered in one BPF run, the actors' page tables and
//   scheduling counters read from kernel memory, /proc only when a task moved);
// - the default at 10, 50 and 100 Hz x 64, 512 and 4,096 watched pages: the scaling table;
// - the system calls a snapshot makes, by kind, per sampler;
// - truth: the snapshot the host rebuilt from deltas equals a fresh full one, and the
//   full snapshots of the three samplers are equal;
// - event -> host latency p50/p99.
// Guest busy time is the run time of every task on every CPU from /proc/schedstat
// (nanoseconds, as the agent's own from /proc/<pid>/schedstat); /proc/stat's tick counts are
// shown beside it: they sample the CPU at each tick, and under TCG a 50 Hz agent whose work
// falls between ticks was counted below its own run time (busy 1.08% with the agent at 7.29%).
import { LabDriver } from '../src/lab/driver.js';
import { readEachSampler, snapshotDifferences } from '../src/lab/samplerCheck.js';
import { loadProfile } from '../src/config/profiles.js';
import type { AgentMessage, SnapshotMessage } from '../src/wire/protocol.js';
import { silentProgress } from '../src/vm/progress.js';
import { GuestSession } from '../src/vm/session.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]! : NaN);

type CpuSample = { agentNs: number; runNs: number; busy: number; total: number };

async function cpu(lab: LabDriver, agentPid: string): Promise<CpuSample> {
  const [stat, sched, cpus] = await Promise.all([
    lab.busybox('cat', '/proc/stat'),
    lab.busybox('cat', `/proc/${agentPid}/schedstat`),
    lab.busybox('cat', '/proc/schedstat'),
  ]);
  const fields = stat.stdout.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3]! + fields[4]!;
  const total = fields.reduce((a, b) => a + b, 0);
  // "cpuN" lines: the 7th number is the time tasks ran on that CPU, in ns.
  const runNs = cpus.stdout
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l))
    .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[7]), 0);
  return { agentNs: Number(sched.stdout.trim().split(/\s+/)[0]), runNs, busy: total - idle, total };
}

type Sampler = 'legacy' | 'kcore' | 'kernel';
type Cell = {
  name: string;
  hz: number;
  pages: number;
  sampler: Sampler;
  agent: number;
  busy: number;
  /** busy as /proc/stat's ticks have it */
  busyTicks: number;
  snapshots: number;
  expected: number;
  skipped: number;
  costs: number[];
  parts: Record<string, number[]>;
  calls: Record<string, number[]>;
  bytes: number;
};

export async function observerBench(): Promise<void> {
  const session = await GuestSession.boot(loadProfile(process.env.BENCH_PROFILE ?? 'default'), { progress: silentProgress });
  try {
    const lab = new LabDriver(session.channel);
    const sizes = [64, 512, 4096];
    const split = (n: number) => [Math.ceil(n / 3), Math.ceil((n - Math.ceil(n / 3)) / 2), n - Math.ceil(n / 3) - Math.ceil((n - Math.ceil(n / 3)) / 2)];
    const most = split(sizes.at(-1)!);
    for (const [i, n] of most.entries()) {
      const actor = `w${i}`;
      await lab.startActor(actor);
      await lab.ok(actor, { op: 'open', path: `bench${i}`, create: true, size: n * 4096 });
      await lab.ok(actor, { op: 'mmap', length: n * 4096, flags: ['MAP_SHARED'] });
      await lab.ok(actor, { op: 'touch', pages: [...Array(n).keys()], write: true }, 120_000);
    }
    let watched = [0, 0, 0];
    const watchUpTo = async (total: number) => {
      const want = split(total);
      for (const [i, n] of want.entries()) {
        if (n > watched[i]!) await lab.watchPages(`w${i}`, [...Array(n - watched[i]!).keys()].map((k) => k + watched[i]!), `bench${i}`);
      }
      watched = want;
    };
    await watchUpTo(sizes[0]!);

    const agentPid = String(session.ready.pid);
    const seconds = Number(process.env.BENCH_SECONDS ?? 5);
    let current: Cell | null = null;
    let lastSnap: SnapshotMessage | null = null;
    let firstDropped = 0;
    session.channel.on('line', (line: string) => {
      if (current && line.startsWith('{"kind":"snapshot')) current.bytes += line.length + 1;
    });
    session.channel.on('message', (m: AgentMessage) => {
      if (m.kind !== 'snapshot') return;
      lastSnap = m;
      if (!current) return;
      if (!current.snapshots) firstDropped = m.dropped.snapshots;
      current.snapshots++;
      current.skipped = m.dropped.snapshots - firstDropped;
      if (m.costUs !== undefined) current.costs.push(m.costUs);
      for (const [part, us] of Object.entries(m.costByPartUs ?? {})) (current.parts[part] ??= []).push(us);
      for (const [kind, n] of Object.entries(m.syscalls ?? {})) (current.calls[kind] ??= []).push(n);
    });

    let samplerSaid: unknown = null;
    const measure = async (name: string, hz: number, sampler: Sampler = 'kernel'): Promise<Cell> => {
      const cell: Cell = { name, hz, pages: watched.reduce((a, b) => a + b, 0), sampler, agent: 0, busy: 0, busyTicks: 0, snapshots: 0, expected: hz * seconds, skipped: 0, costs: [], parts: {}, calls: {}, bytes: 0 };
      const reply = (await lab.channel.request({ cmd: 'observe', hz, sampler })) as { sampler?: unknown } | null;
      if (sampler === 'kernel' && hz) samplerSaid = reply?.sampler ?? null;
      await sleep(500);
      const a = await cpu(lab, agentPid);
      current = cell;
      await sleep(seconds * 1000);
      current = null;
      const b = await cpu(lab, agentPid);
      const total = b.total - a.total;
      // /proc/stat counts USER_HZ (100) ticks of all CPUs; schedstat nanoseconds of one task
      cell.agent = (b.agentNs - a.agentNs) / 1e9 / (total / 100);
      cell.busy = (b.runNs - a.runNs) / 1e9 / (total / 100);
      cell.busyTicks = (b.busy - a.busy) / total;
      return cell;
    };

    const cells: Cell[] = [];
    const idle0 = await measure('idle', 0);
    for (const sampler of ['legacy', 'kcore'] as const) for (const hz of [10, 50]) cells.push(await measure(`${sampler} ${hz} Hz`, hz, sampler));
    const scaling: Cell[] = [];
    const truth: string[] = [];
    for (const n of sizes) {
      await watchUpTo(n);
      for (const hz of [10, 50, 100]) scaling.push(await measure(`${hz} Hz`, hz));
      // The snapshot the host rebuilt from the last window's deltas against a fresh full one.
      await lab.channel.request({ cmd: 'observe', hz: 0 });
      await sleep(200);
      const rebuilt = lastSnap as SnapshotMessage | null;
      const { kernel: fresh, kcore, legacy: old } = await readEachSampler(lab);
      // equal, or the first fields that differ (the self-test's comparison)
      const same = (x: SnapshotMessage | null, y: SnapshotMessage) => {
        const d = x ? snapshotDifferences(x, y) : ['no snapshot'];
        return d.length ? `NO (${d.slice(0, 3).join('; ')})` : 'yes';
      };
      truth.push(
        `${n} pages: rebuilt from deltas = fresh full snapshot: ${same(rebuilt, fresh)}; ` +
          `kernel full = kcore full: ${same(fresh, kcore)}; kernel full = legacy full: ${same(fresh, old)}`,
      );
    }
    const idle1 = await measure('idle again', 0);
    const idle = (idle0.busy + idle1.busy) / 2;

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

    const pct = (x: number) => `${(x * 100).toFixed(2)}%`.padStart(8);
    const us = (x: number) => (Number.isNaN(x) ? '-' : `${x}`).padStart(7);
    const row = (c: Cell) =>
      `${c.name.padEnd(14)} ${String(c.pages).padStart(5)} ${pct(c.agent)} ${pct(c.busy)} ${(c.busy / idle).toFixed(2).padStart(7)} ${pct(c.busyTicks)} ${us(quantile(c.costs, 0.5))} ${us(quantile(c.costs, 0.99))} ${`${c.snapshots}/${c.expected}`.padStart(9)} ${String(c.skipped).padStart(7)} ${(c.bytes / seconds / 1024).toFixed(1).padStart(8)}`;
    const head = `${'sampler'.padEnd(14)} ${'pages'.padStart(5)} ${'agent'.padStart(8)} ${'busy'.padStart(8)} ${'x idle'.padStart(7)} ${'ticks'.padStart(8)} ${'p50 us'.padStart(7)} ${'p99 us'.padStart(7)} ${'snaps'.padStart(9)} ${'skipped'.padStart(7)} ${'KiB/s'.padStart(8)}`;
    console.log(
      `\nobserver benchmark: ${snap.pages.length} pages watched at the end, ${new Set(snap.pages.map((p) => p.file)).size} files, accel ${session.accel.accel}, ${seconds} s per cell, one guest`,
    );
    console.log(`idle guest: busy ${pct(idle0.busy)} before, ${pct(idle1.busy)} after (x idle below is against their mean ${pct(idle)})`);
    console.log("busy: tasks' run time on all CPUs (/proc/schedstat); ticks: the same share as /proc/stat's tick counts have it");
    console.log(`the kernel sampler said: ${JSON.stringify(samplerSaid)}`);
    console.log('\nthe three samplers, 64 pages / 3 files:');
    console.log(head);
    for (const c of [idle0, ...cells, ...scaling.slice(0, 2), idle1]) console.log(row(c.sampler !== 'kernel' || !c.hz ? c : { ...c, name: `kernel ${c.name}` }));
    const callsOf = (c: Cell) => Object.entries(c.calls).map(([k, v]) => `${k} ${quantile(v, 0.5)}`).join(', ');
    console.log('system calls per snapshot (p50, 50 Hz, 64 pages):');
    for (const c of [cells[1]!, cells[3]!]) console.log(`  ${c.name.padEnd(14)} ${callsOf(c)}`);
    console.log(`  ${'kernel 50 Hz'.padEnd(14)} ${callsOf(scaling[1]!)}`);
    const p50 = (c: Cell) => quantile(c.costs, 0.5);
    console.log(
      `snapshot p50 at 50 Hz, 64 pages: kernel ${p50(scaling[1]!)} us, kcore ${p50(cells[3]!)} us, legacy ${p50(cells[1]!)} us: ` +
        `kernel/kcore ${(p50(scaling[1]!) / p50(cells[3]!)).toFixed(2)}, kernel/legacy ${(p50(scaling[1]!) / p50(cells[1]!)).toFixed(2)}; ` +
        `kernel busy ${(scaling[1]!.busy / idle).toFixed(2)}x idle`,
    );
    console.log('\nscaling (kernel sampler):');
    console.log(head);
    for (const c of scaling) console.log(row(c));
    const per = (c: Cell) => quantile(c.costs, 0.5);
    const at = (hz: number, n: number) => scaling.find((c) => c.hz === hz && c.pages === n)!;
    console.log(
      `cost per watched page (p50 at 50 Hz, 64 -> 4096 pages): ${((per(at(50, 4096)) - per(at(50, 64))) / (4096 - 64)).toFixed(2)} us; ` +
        `guest busy per 10 Hz at 64 pages (10 -> 100 Hz): ${(((at(100, 64).busy - at(10, 64).busy) / 9) * 100).toFixed(3)}% of all CPUs`,
    );
    const partsOf = (c: Cell) => Object.entries(c.parts).map(([k, v]) => `${k} ${quantile(v, 0.5)}`).join(', ');
    console.log(`p50 by part, us (legacy 50 Hz, 64 pages): ${partsOf(cells[1]!)}`);
    console.log(`p50 by part, us (kcore 50 Hz, 64 pages):  ${partsOf(cells[3]!)}`);
    console.log(`p50 by part, us (kernel 50 Hz, 64 pages): ${partsOf(at(50, 64))}`);
    console.log(`p50 by part, us (kernel 50 Hz, 4096 pages): ${partsOf(at(50, 4096))}`);
    for (const t of truth) console.log(`truth: ${t}`);
    console.log(
      `event -> host latency: p50 ${quantile(latencies, 0.5).toFixed(2)} ms, p99 ${quantile(latencies, 0.99).toFixed(2)} ms ` +
        `(${latencies.length} events; clock offset from the fastest of 30 pings, rtt ${best.rtt.toFixed(2)} ms)`,
    );
  } finally {
    await session.shutdown();
  }
}
