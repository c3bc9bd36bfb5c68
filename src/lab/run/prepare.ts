// Preparing the guest for one run: what the scenario needs of it (file system, devdax,
// null_blk, soft-RoCE), sampling at the rate the checks need, tracing, the run's
// directories, the lease-break time, and the actors started. What cannot be had makes
// the run "cannot test" with the reason (ctx.cannotTest), never a finding.
import { measuredDevdaxIdle, measuredFsdaxIdle, type ObserveReply, type TraceReply } from '../era.js';
import { rememberCallScan } from '../callScanCache.js';
import { traceCommand } from '../trace.js';
import { ensureNullBlk, ensureRdma } from '../guestPrep.js';
import { parseScenarioDuration } from '../../config/units.js';
import type { RunContext } from './context.js';

export async function prepare(ctx: RunContext): Promise<void> {
  const s = ctx.scenario;
  const fs = ctx.target.hello.mount.fstype;
  if (s.needs.fs && !s.needs.fs.includes(fs as 'xfs')) {
    ctx.cannotTest = `${s.id} needs ${s.needs.fs.join(' or ')}; this profile mounts ${fs} (try --profile ${s.needs.fs.includes('ext4') ? 'ext4' : 'default'})`;
    return;
  }
  const ns = ctx.target.hello.nvdimms.find((n) => n.mode === 'devdax');
  const region = ns?.daxregion as { devices?: Array<{ chardev?: string }> } | undefined;
  ctx.devdax = region?.devices?.[0]?.chardev ?? null;
  ctx.available.devdax = ctx.devdax !== null;
  if (s.needs.devdax === 'required' && !ctx.available.devdax) {
    ctx.cannotTest = `${s.id} needs a devdax namespace; profile ${ctx.target.profile.name} has none`;
    return;
  }
  // The profile sets the rate; the time-bounded checks (hundreds of ms) need at least
  // 20 Hz, or what the scenario asks for.
  const hz = Math.max(ctx.target.profile.sampling.hz, s.sampleHz ?? 20);
  const observe = (await ctx.target.channel.request({ cmd: 'observe', hz })) as ObserveReply;
  ctx.idleBaseline = measuredFsdaxIdle(observe);
  // The numbers are the same either way (the self-test's samplers-agree): only the cost differs.
  const fellBack = [observe.sampler?.gather && `blocks from kcore one by one (${observe.sampler.gather})`, observe.sampler?.actors && `actors from /proc (${observe.sampler.actors})`].filter(Boolean);
  if (fellBack.length) ctx.log(`observer: ${fellBack.join('; ')}`);
  ctx.devdaxIdle = measuredDevdaxIdle(observe);
  const mk = await ctx.exec(['/bin/busybox', 'mkdir', '-p', `/mnt/dax/${ctx.instance}`, `/tmp/daxlab/${ctx.instance}`]);
  if (mk.status !== 0) throw new Error(`cannot make the run's directories: ${mk.stderr}`);
  const lbt = await ctx.exec(['/bin/busybox', 'cat', '/proc/sys/fs/lease-break-time']);
  ctx.vars = { 'lease-break-time': Number(lbt.stdout.trim()) };

  if (s.needs.nullBlk) {
    const why = await ensureNullBlk(ctx.shell, parseScenarioDuration(s.needs.nullBlk.completion) * 1e6);
    ctx.available.nullBlk = why === null;
    if (why) {
      ctx.cannotTest = `null_blk: ${why}`;
      return;
    }
  }
  if (s.needs.rdma) {
    const why = await ensureRdma(ctx.shell);
    ctx.available.rdma = why === null;
    if (why) {
      ctx.measurements.rdma = why;
      if (s.needs.rdma === 'required') {
        ctx.cannotTest = `soft-RoCE: ${why}`;
        return;
      }
      ctx.log(`soft-RoCE unavailable (${why}): the RDMA steps will not apply`);
    }
  }
  // Tracing for the dashboard is set up when the guest comes up; a run asks again (the
  // self-test, another client may have changed it), after the modules it needs are loaded:
  // which probe points are called is measured in the code loaded then (6.1's
  // pin_user_pages_fast has callers only in modules, ib_core's ib_umem_get() among them).
  ctx.traced = (await ctx.target.channel.request(traceCommand({ cached: true }))) as TraceReply;
  rememberCallScan(ctx.traced);
  ctx.measurements.tracing = ctx.traced;
  for (const a of s.actors) {
    const program = a.program === 'verbs' && ctx.available.rdma ? 'verbs' : 'agent';
    const started = (await ctx.driver.startActor(a.name, program)) as { pid: number };
    ctx.pids[a.name] = started.pid;
  }
}
