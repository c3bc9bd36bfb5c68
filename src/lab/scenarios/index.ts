// The built-in scenarios (their ids are part of the interface), and how a scenario is found:
// built-in by id, a profile's own by id, or a JSON file.
import fs from 'node:fs';
import type { Profile } from '../../config/profiles.js';
import { parseDocument } from '../../config/limits.js';
import { ScenarioError, validateScenario, type Scenario, type ScenarioInput } from '../scenario.js';
import { dmaVsTruncate } from './dma-vs-truncate.js';
import { faultVsTruncate } from './fault-vs-truncate.js';
import { longtermPin } from './longterm-pin.js';
import { mapDirectLease } from './map-direct-lease.js';
import { mapSync } from './map-sync.js';
import { pinAccounting } from './pin-accounting.js';
import { vmspliceVsPunch } from './vmsplice-vs-punch.js';

export const BUILTIN_IDS = ['dma-vs-truncate', 'vmsplice-vs-punch', 'longterm-pin', 'map-direct-lease', 'map-sync', 'fault-vs-truncate', 'pin-accounting'] as const;

const inputs: ScenarioInput[] = [dmaVsTruncate, vmspliceVsPunch, longtermPin, mapDirectLease, mapSync, faultVsTruncate, pinAccounting];

/** Built-ins go through the same schema as users' scenarios: a broken one fails here, loudly. */
export const builtinScenarios: readonly Scenario[] = inputs.map((s) => validateScenario(s, `built-in ${s.id}`));

export type ScenarioSource = { origin: 'built-in' | 'profile' | 'file'; location: string };

/** A profile's own scenarios, each validated; a broken one is reported with its path in the profile. */
export function profileScenarios(profile: Profile): Array<{ scenario: Scenario } | { error: ScenarioError; index: number }> {
  return profile.scenarios.map((data, index) => {
    try {
      return { scenario: validateScenario(data, `profile ${profile.name} scenarios[${index}]`) };
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
      return { error: err, index };
    }
  });
}

export function loadScenarioFile(file: string): Scenario {
  let data: unknown;
  try {
    if (!fs.statSync(file).isFile()) throw new Error('it is not a regular file');
    data = parseDocument(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ScenarioError(file, [`cannot read it as JSON: ${(err as Error).message}`]);
  }
  return validateScenario(data, file);
}

/** Find a scenario by id: the profile's own first (they may shadow a built-in), then the built-ins. */
export function findScenario(id: string, profile?: Profile): { scenario: Scenario; source: ScenarioSource } {
  if (profile) {
    for (const entry of profileScenarios(profile)) {
      if ('error' in entry) {
        const raw = profile.scenarios[entry.index] as { id?: unknown } | null;
        if (raw && typeof raw === 'object' && raw.id === id) throw entry.error;
        continue;
      }
      if (entry.scenario.id === id) return { scenario: entry.scenario, source: { origin: 'profile', location: `profile ${profile.name}` } };
    }
  }
  const builtin = builtinScenarios.find((s) => s.id === id);
  if (builtin) return { scenario: builtin, source: { origin: 'built-in', location: `src/lab/scenarios` } };
  const known = [...builtinScenarios.map((s) => s.id), ...(profile ? profileScenarios(profile).flatMap((e) => ('scenario' in e ? [e.scenario.id] : [])) : [])];
  const problem = `no scenario "${id}"; known: ${[...new Set(known)].join(', ')}`;
  throw new ScenarioError(id, [problem], problem);
}
