// The scenario engine seen from the TUI: its built-ins as the picker shows them, its
// expectations as the dashboard lists them, its log read for progress, and the gate that
// holds it at a step boundary.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { builtinScenarios, BUILTIN_IDS } from '../../../src/lab/scenarios/index.js';
import { engineExpectations, engineScenarioInfo, gatedChannel, parseEngineLog } from '../../../src/screens/engineRun.js';
import type { AgentChannel } from '../../../src/vm/channel.js';

const byId = (id: string) => builtinScenarios.find((s) => s.id === id)!;

describe('engine scenarios in the TUI', () => {
  it('every built-in has a title, its threads with Message-IDs, a story and a label for each step', () => {
    expect(builtinScenarios.map((s) => s.id)).toEqual([...BUILTIN_IDS]);
    for (const s of builtinScenarios) {
      const info = engineScenarioInfo(s);
      expect(info.steps).toHaveLength(s.steps.length);
      for (const st of info.steps) {
        expect(st.label.length).toBeGreaterThan(3);
        expect(st.say?.length).toBeGreaterThan(10);
      }
    }
    const v = engineScenarioInfo(byId('vmsplice-vs-punch'));
    expect(v.threads.join(' ')).toContain('<20171026105850.GA31161@quack2.suse.cz>');
    expect(v.steps.find((s) => s.label === 'puncher: fallocate punch 0+4K')?.watch).toEqual({ panel: 'actors', row: 'puncher' });
    expect(v.steps.find((s) => s.label === 'holder: vmsplice pages 0')?.watch).toEqual({ panel: 'pages', row: 'victim#0' });
    expect(v.interventions.map((i) => i.key)).toEqual(['d', 'K']);
  });

  it('lists the expectations with the ids and words the engine reports them by', () => {
    const ex = engineExpectations(byId('vmsplice-vs-punch'));
    expect(ex.every((e) => e.status === 'pending')).toBe(true);
    expect(ex.find((e) => e.id === 'punch-waits-unmapped')).toMatchObject({ description: 'the punch waits while the pipe still holds page 1 (1 s)' });
    expect(ex.find((e) => e.id === 'splice.2')).toMatchObject({ description: 'the pipe adds exactly one reference', step: 4 });
  });

  it('reads step starts and verdicts from the engine log', () => {
    expect(parseEngineLog('[5] vmsplice without SPLICE_F_GIFT: ...')).toEqual({ kind: 'step', index: 4, skipped: false });
    expect(parseEngineLog('[2] skipped (applies to ext4, not xfs): ...')).toEqual({ kind: 'step', index: 1, skipped: true });
    expect(parseEngineLog('    held     the pipe adds exactly one reference — aboveIdle 0 -> 1')).toEqual({
      kind: 'verdict', status: 'held', precondition: false, description: 'the pipe adds exactly one reference', detail: 'aboveIdle 0 -> 1',
    });
    expect(parseEngineLog('    VIOLATED (precondition) wait until x — it did not happen in time')).toMatchObject({ status: 'violated', precondition: true, description: 'wait until x' });
    expect(parseEngineLog('loading null_blk ...')).toBeNull();
  });

  it('the gate holds commands that act on the guest, never sampling', async () => {
    const sent: string[] = [];
    const fake = Object.assign(new EventEmitter(), {
      closed: false,
      request: async (c: { cmd: string }) => (sent.push(c.cmd), {}),
    }) as unknown as AgentChannel;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const ch = gatedChannel(fake, () => gate);
    const act = ch.request({ cmd: 'act', actor: 'holder', op: 'drain' });
    await ch.request({ cmd: 'sample' });
    expect(sent).toEqual(['sample']);
    open();
    await act;
    expect(sent).toEqual(['sample', 'act']);
    // Everything else is the channel's own.
    let heard = 0;
    ch.on('message', () => heard++);
    (fake as unknown as EventEmitter).emit('message', {});
    expect(heard).toBe(1);
    expect(ch.closed).toBe(false);
  });
});
