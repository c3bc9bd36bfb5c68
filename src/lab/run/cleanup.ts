// Clean-up: however a run ended, end every actor and leave the guest as we found it. An
// actor killed inside an action is said; one that cannot be ended is itself a violated
// expectation, and the guest is reported unfit for another run.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunContext } from './context.js';
import type { ScenarioReport } from './types.js';

export async function cleanup(ctx: RunContext): Promise<ScenarioReport['cleanup']> {
  const out: ScenarioReport['cleanup'] = { killed: [], stuck: [], guestReusable: true, notes: [] };
  if (ctx.target.channel.closed) {
    out.guestReusable = false;
    out.notes.push('the agent channel is closed');
    return out;
  }
  try {
    ctx.hang.noteBlocked();
    const alive = ctx.actorNames.filter((a) => ctx.state.actors[a] !== undefined && !ctx.state.actors[a]!.exit);
    for (const a of alive) {
      try {
        // Killed inside an action: worth saying (a task the run left asleep, a hang).
        const busy = ctx.isBusy(a);
        await ctx.target.channel.request({ cmd: 'actor-kill', actor: a, signal: 'SIGKILL' }, 10_000);
        if (busy) out.killed.push(a);
      } catch (err) {
        if (!/dead/.test((err as Error).message)) out.notes.push(`killing ${a}: ${(err as Error).message}`);
      }
    }
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && alive.some((a) => !ctx.state.actors[a]?.exit)) await sleep(50);
    out.stuck = alive.filter((a) => !ctx.state.actors[a]?.exit);
    if (out.stuck.length) {
      out.guestReusable = false;
      await ctx.sample().catch(() => {});
      ctx.verdict({
        id: 'actors-end',
        step: null,
        stepId: null,
        check: 'cleanup',
        description: 'every actor can be ended with SIGKILL at the end of the run',
        status: 'violated',
        detail: `${out.stuck.join(', ')} did not die within 15 s of SIGKILL`,
        evidence: { stacks: Object.fromEntries(out.stuck.map((a) => [a, ctx.state.actors[a]?.task?.stack ?? []])) },
      });
    }
    if (ctx.refWatched.length) await ctx.driver.refWatch([]).catch((err: Error) => out.notes.push(`disarming the refcount watchpoints: ${err.message}`));
    await ctx.target.channel.request({ cmd: 'unwatch' }, 10_000);
    const rm = await ctx.exec(['/bin/busybox', 'rm', '-rf', `/mnt/dax/${ctx.instance}`, `/tmp/daxlab/${ctx.instance}`], 20_000);
    if (rm.status !== 0) {
      out.guestReusable = false;
      out.notes.push(`removing the run's files failed (${rm.status}): ${rm.stderr.trim()}`);
    }
    await ctx.target.channel.request({ cmd: 'observe', hz: 0 }, 10_000);
  } catch (err) {
    out.guestReusable = false;
    out.notes.push(`cleanup: ${(err as Error).message}`);
  }
  // What the clean-up could not do is said, not only kept in the report.
  for (const note of out.notes) ctx.log(`    cleanup: ${note}`);
  return out;
}
