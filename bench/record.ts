// Recorder benchmark: what one snapshot-sized agent line costs the transcript recorder,
// side by side with the floor (the same line written with fs.writeSync, no record around
// it) and with a snapshot's budget at 50 Hz (20 ms). No guest: the largest snapshot line of
// a recorded run (test/fixtures), written `lines` times per run, medians of the runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TranscriptRecorder } from '../src/wire/transcript.js';

const FIXTURE = path.resolve(import.meta.dirname, '../test/fixtures/vmsplice-vs-punch-xfs.jsonl');
const BUDGET_MS = 1000 / 50;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The longest snapshot line the agent sent in the fixture's run. */
function snapshotLine(): string {
  let longest = '';
  for (const text of fs.readFileSync(FIXTURE, 'utf8').split('\n')) {
    if (!text) continue;
    const r = JSON.parse(text) as { dir: string; line?: string };
    if (r.dir === 'agent' && r.line?.includes('"kind":"snapshot"') && r.line.length > longest.length) longest = r.line;
  }
  if (!longest) throw new Error(`${FIXTURE} has no snapshot line`);
  return longest;
}

export async function recordBench(runs: number, lines = Number(process.env.BENCH_LINES ?? 2000)): Promise<void> {
  const line = snapshotLine();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxlab-bench-record-'));
  const recorder: number[] = [];
  const floor: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      // Alternated, so that the machine's load falls on both alike.
      const rec = TranscriptRecorder.open(path.join(dir, `rec-${run}.jsonl`));
      let began = performance.now();
      for (let i = 0; i < lines; i++) rec.agent(line);
      recorder.push((performance.now() - began) / lines);
      rec.close();
      if (rec.records !== lines + 1 || rec.error) throw new Error(`the recorder wrote ${rec.records} records of ${lines + 1}${rec.error ? `: ${rec.error.message}` : ''}`);

      const fd = fs.openSync(path.join(dir, `floor-${run}.jsonl`), 'w');
      const raw = `${line}\n`;
      began = performance.now();
      for (let i = 0; i < lines; i++) fs.writeSync(fd, raw);
      floor.push((performance.now() - began) / lines);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const r = median(recorder);
  const f = median(floor);
  console.log(
    `\nRecorder benchmark: a ${line.length}-byte snapshot line (${path.basename(FIXTURE)}), ${lines} lines a run, ${runs} runs (medians); ` +
      `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} cores`,
  );
  console.log('                  ms/line   lines/s  x floor  share of 50 Hz budget (20 ms)');
  for (const [name, ms] of [['floor (writeSync)', f], ['recorder', r]] as const) {
    console.log(`${name.padEnd(17)} ${ms.toFixed(4).padStart(8)} ${Math.round(1000 / ms).toString().padStart(9)} ${(ms / f).toFixed(2).padStart(8)}  ${((ms / BUDGET_MS) * 100).toFixed(3)}%`);
  }
}
