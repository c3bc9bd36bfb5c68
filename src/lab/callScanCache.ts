// The agent's call-site scan (probes.c: who calls each probe point, read in the kernel's
// code and data through /proc/kcore) costs seconds of guest time under TCG, and its answer
// is a property of the kernel build and its loaded modules, not of the boot: the counts do
// not move with KASLR. The host keeps each answer by the agent's key (uname release and
// version, module names and sizes) and sends the ones it has with the trace command; the
// agent uses one only when its key is the running kernel's. The self-test always scans.
import fs from 'node:fs';
import path from 'node:path';
import { paths } from '../paths.js';
import type { TraceReply } from './era.js';

export type CallScanEntry = { key: string; results: unknown[]; at: string };

const KEEP = 16;
const file = () => path.join(paths.cache, 'callscan.json');

/** The kept answers, newest first (none when the file is missing or not ours). */
export function cachedCallScans(): CallScanEntry[] {
  try {
    const data = JSON.parse(fs.readFileSync(file(), 'utf8')) as unknown;
    if (!Array.isArray(data)) return [];
    return data.filter((e): e is CallScanEntry => !!e && typeof e === 'object' && typeof (e as CallScanEntry).key === 'string' && Array.isArray((e as CallScanEntry).results)).slice(0, KEEP);
  } catch {
    return [];
  }
}

/** Keep a fresh, complete scan from a trace reply (a cached or partial one changes nothing). */
export function rememberCallScan(reply: TraceReply | null | undefined): void {
  const scan = reply?.callScan;
  if (!scan?.measured || scan.cached || !scan.key || !Array.isArray(scan.results)) return;
  const entry: CallScanEntry = { key: scan.key, results: scan.results, at: new Date().toISOString() };
  const kept = [entry, ...cachedCallScans().filter((e) => e.key !== entry.key)].slice(0, KEEP);
  try {
    fs.mkdirSync(paths.cache, { recursive: true });
    const tmp = `${file()}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(kept));
    fs.renameSync(tmp, file());
  } catch {
    // a cache we cannot write only costs the next boot a scan
  }
}
