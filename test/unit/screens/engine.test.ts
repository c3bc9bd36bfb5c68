// The scenario engine seen from the TUI: its built-ins as the picker shows them, its
// expectations as the dashboard lists them, and when Guided mode must not hold a step back.
// (How a run's progress reaches the TUI, as typed events: test/unit/engine-run.test.ts.)
import { describe, expect, it } from 'vitest';
import { builtinScenarios, BUILTIN_IDS } from '../../../src/lab/scenarios/index.js';
import { replayTranscript } from '../../../src/wire/transcript.js';
import { reduceAll } from '../../../src/lab/state.js';
import { engineExpectations, engineScenarioInfo, kernelTimer } from '../../../src/screens/engineRun.js';
import { fixture } from './harness.js';

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

  it('Guided does not hold a step back while a kernel timer runs: a breaking lease, an O_DIRECT in flight', () => {
    const lease = replayTranscript(fixture('lease-xfs.jsonl')).messages;
    // Before the truncate the lease is ACTIVE: no timer; while it breaks, the countdown runs.
    expect(kernelTimer(reduceAll(lease.filter((m) => m.t < 23.5)))).toBeNull();
    expect(kernelTimer(reduceAll(lease.filter((m) => m.t < 25)))).toBe("the lease on leased is breaking (the kernel's countdown does not wait)");
    const dio = replayTranscript(fixture('dma-vs-truncate-xfs.jsonl')).messages;
    const inFlight = dio.findIndex((m) => m.kind === 'action' && m.op === 'odirect' && m.phase === 'start');
    expect(kernelTimer(reduceAll(dio.slice(0, inFlight + 1)))).toBe("dma's O_DIRECT is in flight (the device completes it on its own)");
    expect(kernelTimer(reduceAll(dio))).toBeNull();
  });
});
