// Clean-up that survives kill -9: every run marks its socket directory and run directory
// with the pid (and start time) of the daxlab that owns them. A run killed without running
// any handler leaves them behind (pdeathsig ends its QEMU); the next start sweeps them:
// the socket directory goes, the NVDIMM images go (sparse, but 1 GiB each), and a run
// directory with nothing to read (no console output, no transcript) goes too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const OWNER = 'owner.pid';
/** A socket directory from before owner files (or one whose owner file was never written). */
const UNMARKED_AGE_MS = 60 * 60_000;

/** The start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), or null if it is gone. */
function startTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether a process of this pid runs now. */
export function processAlive(pid: number): boolean {
  return startTime(pid) !== null;
}

/** Mark a directory as this process's. */
export function markOwned(dir: string): void {
  fs.writeFileSync(path.join(dir, OWNER), `${process.pid} ${startTime(process.pid) ?? ''}\n`);
}

/** Whether the process that marked a directory is gone (a reused pid is another process). */
export function ownerIsDead(dir: string): boolean | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, OWNER), 'utf8');
  } catch {
    return null;
  }
  const [pidText, started] = text.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return false;
  const now = startTime(pid);
  return now === null || (!!started && now !== started);
}

/** What a run directory holds worth keeping: a console log with output, a transcript. */
function worthKeeping(runDir: string): boolean {
  for (const file of ['console.log', 'transcript.jsonl']) {
    try {
      if (fs.statSync(path.join(runDir, file)).size > 0) return true;
    } catch {
      // absent
    }
  }
  return false;
}

/** A run is over: drop its owner mark, its NVDIMM images, and the directory if nothing in it is worth reading. */
export function releaseOwned(runDir: string, opts: { removeIfEmpty: boolean }): void {
  try {
    for (const file of fs.readdirSync(runDir)) if (/^nvdimm\d+\.img$/.test(file)) fs.rmSync(path.join(runDir, file), { force: true });
    fs.rmSync(path.join(runDir, OWNER), { force: true });
    if (opts.removeIfEmpty && !worthKeeping(runDir)) fs.rmSync(runDir, { recursive: true, force: true });
  } catch {
    // Already gone.
  }
}

export type SweepResult = { socketDirs: string[]; nvdimmFiles: string[]; runDirs: string[] };

/** Sweep what dead runs of ours left in the run directories and under the temporary directory. */
export function sweepDeadRuns(runsDir: string, tmpDir = os.tmpdir()): SweepResult {
  const result: SweepResult = { socketDirs: [], nvdimmFiles: [], runDirs: [] };
  const uid = process.getuid?.();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(tmpDir).filter((e) => e.startsWith('daxlab-'));
  } catch {
    // no tmp dir to read
  }
  for (const entry of entries) {
    const dir = path.join(tmpDir, entry);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      const dead = ownerIsDead(dir);
      // An unmarked directory is swept only if it has the name our sessions give theirs.
      if (dead === null && !/^daxlab-[A-Za-z0-9]{6}$/.test(entry)) continue;
      // Only directories that look like ours: QEMU's sockets, our owner file.
      const files = fs.readdirSync(dir);
      const ours = files.every((f) => f === OWNER || /\.(sock|socket)$/.test(f) || f === 'agent' || f === 'qmp');
      if (!ours) continue;
      if (dead === true || (dead === null && Date.now() - st.mtimeMs > UNMARKED_AGE_MS)) {
        fs.rmSync(dir, { recursive: true, force: true });
        result.socketDirs.push(dir);
      }
    } catch {
      // raced with another sweep
    }
  }
  let runs: string[] = [];
  try {
    runs = fs.readdirSync(runsDir);
  } catch {
    return result;
  }
  for (const run of runs) {
    const dir = path.join(runsDir, run);
    try {
      const files = fs.readdirSync(dir);
      const dead = ownerIsDead(dir);
      // Marked by a dead daxlab, or unmarked with images left (a run from before the marks).
      const images = files.filter((f) => /^nvdimm\d+\.img$/.test(f));
      if (dead === false || (dead === null && !images.length)) continue;
      if (dead === null && Date.now() - fs.statSync(dir).mtimeMs < UNMARKED_AGE_MS) continue;
      for (const f of images) {
        fs.rmSync(path.join(dir, f), { force: true });
        result.nvdimmFiles.push(path.join(dir, f));
      }
      releaseOwned(dir, { removeIfEmpty: true });
      if (!fs.existsSync(dir)) result.runDirs.push(dir);
    } catch {
      // raced with another sweep
    }
  }
  return result;
}
