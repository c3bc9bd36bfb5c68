// The op catalogue: every built-in step's op becomes a wire op the agent's schema accepts,
// with sizes, durations and paths resolved; interventions come with their keys.
import { describe, expect, it } from 'vitest';
import { parseScenarioDuration, parseSize } from '../../src/config/units.js';
import { builtinScenarios } from '../../src/lab/scenarios/index.js';
import { interventionKeys, interventionOf, opLabel, toWireOp, wireOpSchema, type WireContext } from '../../src/wire/ops.js';

const at: WireContext = { path: (p) => `/mnt/dax/run/${p}`, size: parseSize, duration: (v) => parseScenarioDuration(v, { 'lease-break-time': 45 }) };

describe('actor ops', () => {
  it('every built-in step translates to a valid wire op, sizes in bytes and paths in the guest', () => {
    let n = 0;
    for (const s of builtinScenarios)
      for (const st of s.steps) {
        if (!st.do) continue;
        const wire = toWireOp(st.do, at);
        const parsed = wireOpSchema.safeParse(wire);
        expect(parsed.success, `${s.id}/${st.id}: ${JSON.stringify(wire)}`).toBe(true);
        expect(wire.op).toBe(st.do.op);
        for (const v of Object.values(wire)) expect(typeof v === 'string' && /^\d+[KMG]$/.test(v), `${s.id}/${st.id}: a size left unparsed`).toBe(false);
        n++;
      }
    expect(n).toBeGreaterThan(20);
    expect(toWireOp({ op: 'open', path: 'victim', create: true, size: '64K' }, at)).toEqual({ op: 'open', path: '/mnt/dax/run/victim', create: true, size: 65536 });
    expect(toWireOp({ op: 'sleep', for: 'lease-break-time + 2s' }, at)).toEqual({ op: 'sleep', ms: 47_000 });
    expect(opLabel({ op: 'fallocate', mode: 'punch', offset: 0, length: '4K' })).toBe('fallocate punch 0+4K');
  });

  it('interventions: each a distinct key, and what it does', () => {
    const keys = interventionKeys().map((i) => i.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(interventionOf('kill:puncher')?.op).toEqual({ op: 'kill' });
    expect(interventionOf('release')?.op).toEqual({ op: 'lease', type: 'unlock' });
    expect(wireOpSchema.safeParse(interventionOf('drain')!.op).success).toBe(true);
    expect(interventionOf('nonsense')).toBeNull();
  });
});
