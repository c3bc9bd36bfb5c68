// Files the user names on the command line, checked before anything boots: a run that
// takes minutes must not fail at its end because --record points nowhere.
import fs from 'node:fs';
import path from 'node:path';
import { CannotTestError } from './exit.js';

/** An output file: its directory exists and is writable, and it is not itself a directory. */
export function checkOutputFile(file: string, option: string): void {
  if (!file) throw new CannotTestError(`${option}: name the file to write`);
  const dir = path.dirname(path.resolve(file));
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new CannotTestError(`${option} ${file}: the directory ${dir} does not exist (create it first)`);
  }
  if (!st.isDirectory()) throw new CannotTestError(`${option} ${file}: ${dir} is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new CannotTestError(`${option} ${file}: the directory ${dir} is not writable`);
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new CannotTestError(`${option} ${file} is a directory: name a file in it`);
}

/** An input file: exists and is a regular file. */
export function checkInputFile(file: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new CannotTestError(`${what} ${file} does not exist`);
  }
  if (!st.isFile()) throw new CannotTestError(`${what} ${file} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}`);
}

/** A transcript opens with its header line; anything else is not one (random bytes, another file). */
export function checkTranscript(file: string): void {
  checkInputFile(file, 'the transcript');
  const fd = fs.openSync(file, 'r');
  let head: string;
  try {
    const buf = Buffer.alloc(4096);
    head = buf.toString('utf8', 0, fs.readSync(fd, buf, 0, buf.length, 0));
  } finally {
    fs.closeSync(fd);
  }
  const first = head.split('\n')[0] ?? '';
  let header: unknown;
  try {
    header = JSON.parse(first);
  } catch {
    header = null;
  }
  const h = header as { dir?: unknown; format?: unknown } | null;
  if (!h || h.dir !== 'meta' || h.format !== 'daxlab-transcript') {
    throw new CannotTestError(`${file} is not a daxlab transcript (its first line is not the transcript header; a run directory's transcript.jsonl is one)`);
  }
}

export function checkReplayInputs(file: string, report: string | undefined): void {
  checkTranscript(file);
  if (report === undefined) return;
  checkInputFile(report, '--report');
  try {
    const data = JSON.parse(fs.readFileSync(report, 'utf8')) as unknown;
    if (!data || typeof data !== 'object' || !Array.isArray((data as { expectations?: unknown }).expectations)) throw new Error('no expectations');
  } catch {
    throw new CannotTestError(`--report ${report} is not what "daxlab run --json" prints (a JSON report with its expectations)`);
  }
}
