// TUI benchmark: the live dashboard rendered by Ink into a 100x30 terminal while a recorded
// transcript replays at 10x speed, alone and with an event flood on top (1,000 and 10,000
// events a second of wall time), measured side by side in one run.
//
// Frame time: from the store publishing a state to Ink having written the frame (React
// render, layout, output). Dropped-frame share: of the 1/15 s slots in which messages
// arrived, the share in which no frame was published (the render loop fell behind).
import { render } from 'ink';
import { PassThrough } from 'node:stream';
import path from 'node:path';
import { replayTranscript, type Replay } from '../src/wire/transcript.js';
import type { EventMessage } from '../src/wire/protocol.js';
import { App } from '../src/screens/App.js';
import { ReplayController } from '../src/screens/replay.js';
import { LabStore } from '../src/screens/store.js';

const FIXTURE = path.resolve(import.meta.dirname, '../test/fixtures/vmsplice-vs-punch-xfs.jsonl');
const SPEED = 10;
const FPS = 15;

type Result = { frames: number; frameMs: number[]; slots: number; dropped: number; messages: number; wallMs: number };

/** The transcript with `perWallSecond` synthetic events added, evenly in time. */
export function flood(replay: Replay, perWallSecond: number): Replay {
  if (!perWallSecond) return replay;
  const entries = [...replay.entries];
  const first = entries[0]!.ms;
  const last = entries[entries.length - 1]!.ms;
  const step = (1000 / perWallSecond) * SPEED; // recorded ms between two flood events
  const extra: Replay['entries'] = [];
  let j = 0;
  for (let ms = first; ms < last; ms += step) {
    while (j + 1 < entries.length && entries[j + 1]!.ms <= ms) j++;
    const t = entries[j]!.message.t;
    const e: EventMessage = { kind: 'event', t, src: 'fs_dax', name: 'dax_pte_fault', pid: 4242, comm: 'flood', fields: { address: '0x7f0000000000', pgoff: extra.length } };
    extra.push({ ms, message: e });
  }
  const merged = [...entries, ...extra].sort((a, b) => a.ms - b.ms);
  return { ...replay, entries: merged, messages: merged.map((x) => x.message) };
}

function fakeTerminal() {
  const stdout = Object.assign(new PassThrough(), { columns: 100, rows: 30, isTTY: true });
  stdout.resume(); // discard what Ink writes
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin, ref: () => stdin, unref: () => stdin });
  return { stdout, stdin };
}

async function once(replay: Replay): Promise<Result> {
  const published: number[] = [];
  const frameMs: number[] = [];
  const arrivals = new Set<number>();
  let pending: number | null = null;
  const t0 = performance.now();
  const store = new LabStore();
  const dispatch = store.dispatch;
  store.dispatch = (m) => {
    arrivals.add(Math.floor((performance.now() - t0) / (1000 / FPS)));
    dispatch(m);
  };
  store.subscribe(() => {
    const now = performance.now();
    published.push(now);
    pending ??= now;
  });
  const controller = new ReplayController(FIXTURE, { speed: SPEED, paused: true, store, replay });
  const { stdout, stdin } = fakeTerminal();
  const ink = render(<App controller={controller} initial="live" color />, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: 30,
    onRender: () => {
      if (pending === null) return;
      frameMs.push(performance.now() - pending);
      pending = null;
    },
  });
  const began = performance.now();
  controller.setPaused(false);
  await controller.done;
  const wallMs = performance.now() - began;
  await new Promise((r) => setTimeout(r, 100));
  ink.unmount();
  const framesInSlots = new Set(published.map((t) => Math.floor((t - t0) / (1000 / FPS))));
  const slots = arrivals.size;
  const missed = [...arrivals].filter((s) => !framesInSlots.has(s) && !framesInSlots.has(s + 1)).length;
  return { frames: published.length, frameMs, slots, dropped: missed, messages: replay.entries.length, wallMs };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
};

export async function tuiBench(runs = 3): Promise<void> {
  const base = replayTranscript(FIXTURE);
  const cases: Array<[string, Replay]> = [
    ['replay alone', base],
    ['+1,000 events/s', flood(base, 1000)],
    ['+10,000 events/s', flood(base, 10_000)],
  ];
  const results = new Map<string, Result[]>(cases.map(([name]) => [name, []]));
  for (let i = 0; i < runs; i++) {
    // Interleaved, so every case sees the same machine state.
    for (const [name, replay] of cases) results.get(name)!.push(await once(replay));
    process.stderr.write(`tui bench run ${i + 1}/${runs}\n`);
  }
  const budget = 1000 / FPS;
  console.log(`\nTUI benchmark: ${path.basename(FIXTURE)} replayed at ${SPEED}x into a 100x30 terminal, ${runs} runs per case (medians of the runs)`);
  console.log('case                messages  wall s  frames  frame p50 ms  p95 ms  p95/budget  dropped frames');
  const summary = new Map<string, { p50: number; p95: number; dropped: number }>();
  for (const [name] of cases) {
    const rs = results.get(name)!;
    const med = (f: (r: Result) => number) => pct(rs.map(f), 0.5);
    const p50 = med((r) => pct(r.frameMs, 0.5));
    const p95 = med((r) => pct(r.frameMs, 0.95));
    const dropped = med((r) => (r.slots ? r.dropped / r.slots : 0));
    summary.set(name, { p50, p95, dropped });
    console.log(
      `${name.padEnd(18)} ${String(med((r) => r.messages)).padStart(9)} ${(med((r) => r.wallMs) / 1000).toFixed(1).padStart(7)} ${String(med((r) => r.frames)).padStart(7)}` +
        ` ${p50.toFixed(1).padStart(13)} ${p95.toFixed(1).padStart(7)} ${(p95 / budget).toFixed(2).padStart(11)} ${(dropped * 100).toFixed(1).padStart(13)}%`,
    );
  }
  const quiet = summary.get('replay alone')!;
  for (const name of ['+1,000 events/s', '+10,000 events/s']) {
    const s = summary.get(name)!;
    console.log(`ratio frame time p50 ${name} / replay alone: ${(s.p50 / quiet.p50).toFixed(2)}; dropped-frame share ${(s.dropped * 100).toFixed(1)}% (alone ${(quiet.dropped * 100).toFixed(1)}%)`);
  }
  console.log(`(frame budget at ${FPS} frames/s: ${budget.toFixed(1)} ms)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await tuiBench(Number(process.env.BENCH_RUNS ?? 3));
