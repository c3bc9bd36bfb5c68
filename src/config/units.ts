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
