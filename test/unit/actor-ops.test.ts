// The guest agent's op table (src/vm/guest/op_table.c) and the host's list of actor ops
// must name the same ops: the agent refuses an op it does not know, and an op the host
// does not know cannot be written in a scenario. The agent prints its table with
// --list-ops (it is a static binary, so it runs on the build host as well).
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { opSchema } from '../../src/lab/scenario.js';
import { buildAgent } from '../../src/vm/agentBuild.js';
import { silentProgress } from '../../src/vm/progress.js';

function hostOps(): string[] {
  return opSchema.options.map((option) => {
    const values = [...option.shape.op.values];
    expect(values, 'one wire name per scenario op').toHaveLength(1);
    return String(values[0]);
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
