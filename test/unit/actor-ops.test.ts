// The guest agent's op table (src/vm/guest/op_table.c) and the host's list of actor ops
// must name the same ops: the agent refuses an op it does not know, and an op the host
// does not know cannot be written in a scenario. The agent prints its table with
// --list-ops (it is a static binary, so it runs on the build host as well).
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { ACTOR_OP_NAMES, ACTOR_OPS } from '../../src/wire/ops.js';
import { buildAgent } from '../../src/vm/agentBuild.js';
import { silentProgress } from '../../src/vm/progress.js';

/** The catalogue's ops, each checked to carry its own name in its scenario and its wire form. */
function hostOps(): string[] {
  return ACTOR_OP_NAMES.map((name) => {
    const e = ACTOR_OPS[name];
    expect([...e.scenario.shape.op.values], `${name}: its scenario form names it`).toEqual([name]);
    expect([...e.wire.shape.op.values], `${name}: its wire form names it`).toEqual([name]);
    return name;
  });
}

it('the agent runs exactly the actor ops the host knows', { timeout: 300_000 }, async () => {
  const agent = await buildAgent(silentProgress);
  const { stdout } = await execa(agent, ['--list-ops']);
  const guest = stdout.split('\n').filter(Boolean);
  const host = hostOps();
  expect(new Set(guest).size, 'the op table names each op once').toBe(guest.length);
  expect({ onlyInAgent: guest.filter((op) => !host.includes(op)), onlyInHost: host.filter((op) => !guest.includes(op)) }).toEqual({
    onlyInAgent: [],
    onlyInHost: [],
  });
  expect(guest.length).toBeGreaterThan(0);
});
