// TUI benchmark: the live dashboard rendered by Ink into a 100x30 terminal while a recorded
// transcript replays at 10x speed, alone and with an event flood on top (1,000 and 10,000
// events a second of wall time). The TUI as it was ("before": React's development build,
// one reduce per message, every view model rebuilt each frame, a 15 frames/s clock) and as
// the lab runs it now ("after"), side by side in one run: each variant in its own process
// (React's build is chosen when it loads), the variants interleaved run by run.
//
// Frame time: from the store publishing a state to Ink having rendered the frame (React
// render and commit, Ink layout and output), wall time; its CPU time beside it (the machine
// is shared: wall time includes waiting for a core). Dropped-frame share: of the 1/15 s
// slots in which messages arrived, the share in which no frame was published in that slot
// or the next (the render loop fell behind the slowest clock either variant promises).
// Each process first replays the transcript once unmeasured (the JIT warm, as in a session
// that has run for a while). Where the time goes: folding messages (the reducer), React (render and commit
// of the screens, the view models built in it), Ink's output (layout, the frame's text),
// the terminal write (bytes a frame).
import { execa } from 'execa';
import { render } from 'ink';
import { PassThrough } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayTranscript, type Replay } from '../src/wire/transcript.js';
import type { EventMessage } from '../src/wire/protocol.js';

const FIXTURE = path.resolve(import.meta.dirname, '../test/fixtures/vmsplice-vs-punch-xfs.jsonl');
const SPEED = 10;

/** How the TUI renders: the path before the fast paths, and the one the lab runs (src/screens/tui.tsx). */
type Variant = {
  name: string;
  /** React's build: development (what `daxlab` loaded before bin/daxlab.mjs set NODE_ENV) or production. */
  react: 'development' | 'production';
  /** src/screens/perf.ts switches. */
  batchFold: boolean;
  memoViews: boolean;
  clipRowsOnly: boolean;
  /** The store's frame clock. */
  maxFps: number;
  minFps: number;
  /** Ink's own render limit and line-by-line writes. */
  inkFps: number;
  incremental: boolean;
};

const BEFORE: Variant = { name: 'before', react: 'development', batchFold: false, memoViews: false, clipRowsOnly: false, maxFps: 15, minFps: 15, inkFps: 30, incremental: false };
const AFTER: Variant = { name: 'after', react: 'production', batchFold: true, memoViews: true, clipRowsOnly: true, maxFps: 30, minFps: 15, inkFps: 60, incremental: false };
/** What made the difference: one change at a time on top of "before" (BENCH_TUI_STEPS=1). */
const STEPS: Variant[] = [
  BEFORE,
  { ...BEFORE, name: '+production React', react: 'production' },
  { ...BEFORE, name: '+prod +batch fold', react: 'production', batchFold: true },
  { ...BEFORE, name: '+prod +fold +memo', react: 'production', batchFold: true, memoViews: true },
  { ...BEFORE, name: '+... rows-only clip', react: 'production', batchFold: true, memoViews: true, clipRowsOnly: true },
  AFTER,
  /** Ink writing the changed lines only: fewer bytes, but it draws wrong in tmux (src/screens/tui.tsx). */
  { ...AFTER, name: '+Ink incremental', incremental: true },
];

type Result = {
  frames: number;
  frameMs: number[];
  cpuMs: number[];
  inkMs: number[];
  slots: number;
  dropped: number;
  messages: number;
  wallMs: number;
  foldMs: number;
  bytes: number;
  renders: number;
};

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
  let bytes = 0;
  stdout.on('data', (chunk: Buffer) => (bytes += chunk.length)); // what a terminal would have to draw
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin, ref: () => stdin, unref: () => stdin });
  return { stdout, stdin, bytes: () => bytes };
}

const CASES: Array<[string, number]> = [
  ['replay alone', 0],
  ['+1,000 events/s', 1000],
  ['+10,000 events/s', 10_000],
];

/** One variant, every case once (in the child process). */
async function child(v: Variant): Promise<Record<string, Result>> {
  const { fastPaths } = await import('../src/screens/perf.js');
  fastPaths.batchFold = v.batchFold;
  fastPaths.memoViews = v.memoViews;
  fastPaths.clipRowsOnly = v.clipRowsOnly;
  const React = await import('react');
  const { App } = await import('../src/screens/App.js');
  const { ReplayController } = await import('../src/screens/replay.js');
  const { LabStore } = await import('../src/screens/store.js');
  const base = replayTranscript(FIXTURE);
  const out: Record<string, Result> = {};
  for (const [name, rate] of [['warm-up', 1000] as const, ...CASES]) {
    const replay = flood(base, rate);
    const slotMs = 1000 / 15;
    const published: number[] = [];
    const frameMs: number[] = [];
    const cpuMs: number[] = [];
    let cpuAt: NodeJS.CpuUsage | null = null;
    const inkMs: number[] = [];
    const arrivals = new Set<number>();
    let pending: number | null = null;
    let renders = 0;
    const t0 = performance.now();
    const store = new LabStore(undefined, { maxFps: v.maxFps, minFps: v.minFps });
    const dispatch = store.dispatch;
    store.dispatch = (m) => {
      arrivals.add(Math.floor((performance.now() - t0) / slotMs));
      dispatch(m);
    };
    store.subscribe(() => {
      const now = performance.now();
      published.push(now);
      if (pending === null) (pending = now), (cpuAt = process.cpuUsage());
    });
    const controller = new ReplayController(FIXTURE, { speed: name === 'warm-up' ? 10 * SPEED : SPEED, paused: true, store, replay });
    const term = fakeTerminal();
    const ink = render(React.createElement(App, { controller, initial: 'live', color: true }), {
      stdout: term.stdout as unknown as NodeJS.WriteStream,
      stdin: term.stdin as unknown as NodeJS.ReadStream,
      exitOnCtrlC: false,
      patchConsole: false,
      maxFps: v.inkFps,
      incrementalRendering: v.incremental,
      onRender: ({ renderTime }) => {
        renders++;
        inkMs.push(renderTime);
        if (pending === null) return;
        frameMs.push(performance.now() - pending);
        const cpu = process.cpuUsage(cpuAt!);
        cpuMs.push((cpu.user + cpu.system) / 1000);
        pending = null;
      },
    });
    const bytes0 = term.bytes();
    const began = performance.now();
    controller.setPaused(false);
    await controller.done;
    const wallMs = performance.now() - began;
    await new Promise((r) => setTimeout(r, 100));
    ink.unmount();
    const framesInSlots = new Set(published.map((t) => Math.floor((t - t0) / slotMs)));
    const missed = [...arrivals].filter((s) => !framesInSlots.has(s) && !framesInSlots.has(s + 1)).length;
    if (name !== 'warm-up') out[name] = { frames: published.length, frameMs, cpuMs, inkMs, slots: arrivals.size, dropped: missed, messages: replay.entries.length, wallMs, foldMs: store.stats.foldMs, bytes: term.bytes() - bytes0, renders };
    await controller.shutdown();
  }
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function spawnChild(v: Variant): Promise<Record<string, Result>> {
  const self = fileURLToPath(import.meta.url);
  // The child's stderr is kept for a failure only (Ink's cursor codes land there on exit).
  const r = await execa(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify(v)], {
    env: { NODE_ENV: v.react },
    cwd: path.resolve(import.meta.dirname, '..'),
    reject: false,
  });
  if (r.exitCode !== 0) throw new Error(`bench tui: the ${v.name} run failed (exit ${r.exitCode}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, Result>;
}

export async function tuiBench(runs = 3): Promise<void> {
  const variants = process.env.BENCH_TUI_STEPS ? STEPS : [BEFORE, AFTER];
  const results = new Map<string, Result[]>();
  const at = (v: Variant, c: string) => `${v.name}\u0000${c}`;
  for (let i = 0; i < runs; i++) {
    // Interleaved, so every variant sees the same machine state.
    for (const v of variants) {
      const r = await spawnChild(v);
      for (const [c] of CASES) results.set(at(v, c), [...(results.get(at(v, c)) ?? []), r[c]!]);
    }
    process.stderr.write(`tui bench run ${i + 1}/${runs}\n`);
  }
  console.log(`\nTUI benchmark: ${path.basename(FIXTURE)} replayed at ${SPEED}x into a 100x30 terminal, ${runs} runs per case (medians of the runs); load average ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} cores at the end`);
  for (const v of variants) {
    console.log(
      `  ${v.name}: React ${v.react}, ${v.batchFold ? 'one fold a frame' : 'one reduce a message'}, ${v.memoViews ? 'memoised view models' : 'view models rebuilt each frame'}, ${v.clipRowsOnly ? 'rows-only clip' : 'boxes clip rows and columns'},` +
        ` clock ${v.maxFps === v.minFps ? `${v.maxFps}` : `${v.maxFps} (down to ${v.minFps})`} frames/s, Ink ${v.inkFps} fps${v.incremental ? ', changed lines only' : ''}`,
    );
  }
  const budget15 = 1000 / 15;
  const budget30 = 1000 / 30;
  console.log('\nvariant            case               messages frames  fps  frame p50   p95  p95/66.7ms  p95/33.3ms  cpu p50   p95  dropped  fold ms/s  ink p50  KB/frame');
  const summary = new Map<string, { p95: number; dropped: number; fps: number }>();
  for (const [c] of CASES) {
    for (const v of variants) {
      const rs = results.get(at(v, c))!;
      const med = (f: (r: Result) => number) => pct(rs.map(f), 0.5);
      const p50 = med((r) => pct(r.frameMs, 0.5));
      const p95 = med((r) => pct(r.frameMs, 0.95));
      const dropped = med((r) => (r.slots ? r.dropped / r.slots : 0));
      const fps = med((r) => r.frames / (r.wallMs / 1000));
      summary.set(at(v, c), { p95, dropped, fps });
      console.log(
        `${v.name.padEnd(18)} ${c.padEnd(18)} ${String(med((r) => r.messages)).padStart(8)} ${String(med((r) => r.frames)).padStart(6)} ${fps.toFixed(1).padStart(4)}` +
          ` ${p50.toFixed(1).padStart(10)} ${p95.toFixed(1).padStart(5)} ${(p95 / budget15).toFixed(2).padStart(11)} ${(p95 / budget30).toFixed(2).padStart(11)}` +
          ` ${med((r) => pct(r.cpuMs, 0.5)).toFixed(1).padStart(8)} ${med((r) => pct(r.cpuMs, 0.95)).toFixed(1).padStart(5)}` +
          ` ${(dropped * 100).toFixed(1).padStart(7)}% ${med((r) => r.foldMs / (r.wallMs / 1000)).toFixed(0).padStart(10)}` +
          ` ${med((r) => pct(r.inkMs, 0.5)).toFixed(1).padStart(8)} ${med((r) => r.bytes / 1024 / Math.max(1, r.renders)).toFixed(1).padStart(9)}`,
      );
    }
  }
  console.log('');
  // The TUI as it was against the TUI as the lab runs it (the steps between are in the table).
  const first = BEFORE;
  const last = AFTER;
  for (const [c] of CASES) {
    const b = summary.get(at(first, c))!;
    const a = summary.get(at(last, c))!;
    console.log(
      `${c.padEnd(17)} frame p95 ${last.name}/${first.name} ${(a.p95 / b.p95).toFixed(2)}; p95/budget ${(b.p95 / budget15).toFixed(2)} -> ${(a.p95 / budget15).toFixed(2)} at 15 fps,` +
        ` ${(a.p95 / budget30).toFixed(2)} at 30 fps; dropped ${(b.dropped * 100).toFixed(1)}% -> ${(a.dropped * 100).toFixed(1)}%; ${b.fps.toFixed(1)} -> ${a.fps.toFixed(1)} frames/s`,
    );
  }
  console.log(
    `(frame budget: ${budget15.toFixed(1)} ms at 15 frames/s, ${budget30.toFixed(1)} ms at 30; cpu: the process's CPU time over the frame; fold ms/s: reducer time a second of wall time; ink p50: Ink's layout-to-text pass; KB/frame: written to the terminal)`,
  );
}

if (process.argv[2] === '--child') {
  const out = await child(JSON.parse(process.argv[3]!) as Variant);
  process.stdout.write(`\n${JSON.stringify(out)}\n`);
  process.exit(0);
} else if (import.meta.url === `file://${process.argv[1]}`) await tuiBench(Number(process.env.BENCH_RUNS ?? 3));
