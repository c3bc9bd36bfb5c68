import { z } from 'zod';

// Sizes and durations as people write them in profiles: "1G", "512M", "2s", "500ms".
const sizeUnits: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function parseSize(text: string | number): number {
  if (typeof text === 'number') return text;
  const m = /^(\d+)\s*([KMGT]?)(i?B)?$/i.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a size (examples: 4096, 4K, 512M, 1G)`);
  return Number(m[1]) * sizeUnits[m[2]!.toUpperCase()]!;
}

export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const scale = sizeUnits[unit]!;
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}

const timeUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

export function parseDuration(text: string | number): number {
  if (typeof text === 'number') return text;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration (examples: 500ms, 2s, 1m)`);
  return Number(m[1]) * timeUnits[m[2]!]!;
}

// ---------------------------------------------------------------------------------------
// Values as scenarios and profiles write them, checked by schema.

/** Bytes: 4096, "4K", "2M". */
export const sizeValue = z.union([z.number().int().nonnegative(), z.string()]).superRefine((value, ctx) => {
  try {
    parseSize(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});
export type SizeValue = z.infer<typeof sizeValue>;

/** Guest quantities a duration may name, resolved when the scenario runs. */
export const DURATION_VARS = {
  'lease-break-time': 'fs.lease-break-time of the guest, in seconds',
} as const;
export type DurationVars = Record<keyof typeof DURATION_VARS, number>;

/**
 * A duration: milliseconds as a number, or "500ms", "2s", "1m", or a sum naming guest
 * quantities: "lease-break-time + 2s", "lease-break-time - 1s" (operators between
 * spaces). Returns milliseconds.
 */
export function parseScenarioDuration(text: string | number, vars?: Partial<DurationVars>): number {
  if (typeof text === 'number') return text;
  // Operators stand between spaces: names such as lease-break-time contain "-".
  const terms = text
    .trim()
    .split(/\s+([+-])\s+/)
    .filter((t) => t !== '');
  let total = 0;
  let sign = 1;
  let expectTerm = true;
  for (const term of terms) {
    if (term === '+' || term === '-') {
      if (expectTerm) throw new Error(`"${text}" is not a duration (a sign where a term should be)`);
      sign = term === '+' ? 1 : -1;
      expectTerm = true;
      continue;
    }
    if (!expectTerm) throw new Error(`"${text}" is not a duration (two terms without + or -)`);
    if (term in DURATION_VARS) {
      const v = vars?.[term as keyof DurationVars];
      // Schema validation passes no vars: a known name is enough there.
      total += vars ? sign * (v === undefined ? NaN : v * 1000) : 0;
    } else {
      try {
        total += sign * parseDuration(term);
      } catch {
        throw new Error(
          `"${text}" is not a duration (examples: 500ms, 2s, 1m, lease-break-time + 2s; "${term}" is neither a duration nor one of ${Object.keys(DURATION_VARS).join(', ')})`,
        );
      }
    }
    expectTerm = false;
  }
  if (expectTerm) throw new Error(`"${text}" is not a duration`);
  if (vars && Number.isNaN(total)) throw new Error(`"${text}" names a guest quantity this run does not know`);
  return total;
}

export const durationValue = z.union([z.number().nonnegative(), z.string()]).superRefine((value, ctx) => {
  try {
    parseScenarioDuration(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});
export type DurationValue = z.infer<typeof durationValue>;
