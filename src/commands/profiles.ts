// daxlab profiles: shipped and saved, with the errors of the broken ones.
import { listProfiles } from '../config/profiles.js';

export function profilesCommand(opts: { json: boolean }): number {
  const entries = listProfiles();
  if (opts.json) {
    const out = entries.map((e) =>
      'error' in e
        ? { name: e.name, origin: e.origin, location: e.location, errors: e.error.problems }
        : { name: e.name, origin: e.origin, location: e.location, profile: e.profile },
    );
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  for (const e of entries) {
    if ('error' in e) {
      process.stdout.write(`${e.name.padEnd(16)} ${e.origin.padEnd(8)} INVALID (${e.location})\n${e.error.problems.map((p) => `    ${p}`).join('\n')}\n`);
    } else {
      const p = e.profile;
      process.stdout.write(
        `${e.name.padEnd(16)} ${e.origin.padEnd(8)} ${p.fs.type} ${p.nvdimms.map((n) => `${n.mode}:${n.size}`).join('+')} accel=${p.accel}  ${p.description}\n`,
      );
    }
  }
  return 0;
}
