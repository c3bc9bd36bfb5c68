// The compare screen: one scenario on two sides (two kernels, or a kernel and a saved
// run), step N of A beside step N of B whatever the time each took, the rows that differ
// marked; t shows both timelines with their steps lined up, r the compare table.
import { Box, Text } from 'ink';
import React, { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { useCompare, useNav } from './App.js';
import type { CompareController, CompareView } from './compare.js';
import { alignedGrid, alignedReadout, sideTimeline, stepMarks, stepRows, stepTime, stepLabel, sideName, type CompareRow, type CompareSide } from './compareModel.js';
import { useTerminalSize } from './hooks.js';
import { moveBinding, type Binding } from './keys.js';
import { KeyBar, useKeymap } from './keymap.js';
import { TitleBar } from './panels/TitleBar.js';
import { T, type Tone } from './theme.js';
import { useRefState } from './ui.js';
import { clip, pad } from './view.js';

const EMPTY = { subscribe: () => () => {}, getView: () => null };

export function useCompareView(c: CompareController | null): CompareView | null {
  const src = c ?? EMPTY;
  return useSyncExternalStore(src.subscribe, src.getView as () => CompareView | null);
}

const SECTION: Record<CompareRow['section'], string> = {
  expectations: 'Expectations of the steps so far',
  pages: 'Pages at the end of the step (compared: references above idle, pins)',
  actors: 'Actors at the end of the step (compared: blocked / waiting / exited, and the last action)',
  locks: 'Locks',
  tables: 'Tables, cell by cell',
};

const MARK: Record<CompareRow['kind'], string> = { differs: '*', 'not-comparable': '~', same: ' ' };

function sideLine(name: 'A' | 'B', s: CompareSide) {
  const tone: Tone = s.status === 'failed' ? 'bad' : s.status === 'finished' ? (s.exitCode === 0 ? 'ok' : s.exitCode === 1 ? 'hot' : 'warn') : 'accent';
  return (
    <Text key={name}>
      <T bold>{name}</T> {sideName(s)}
      {s.release ? <T tone="dim"> {s.release}</T> : null} <T tone={tone}>{s.status}</T>
      {s.note ? <T tone="dim"> {s.note}</T> : null}
    </Text>
  );
}

/** The step the cursor follows while a side runs live: the running side's current step. */
function liveStep(v: CompareView): number | null {
  const running = v.sides.find((s) => s.status === 'running' || s.status === 'booting');
  return running ? Math.max(0, running.current) : null;
}

export function Compare() {
  const { compare } = useCompare();
  const view = useCompareView(compare);
  const { go } = useNav();
  const { columns, rows } = useTerminalSize();
  const steps = view?.scenario?.steps.length ?? 0;
  const [cursor, cursorRef, setCursor] = useRefState(0);
  const [follow, followRef, setFollow] = useRefState(true);
  const [scroll, setScroll] = useState(0);
  const [shown, shownRef, setShown] = useRefState<'steps' | 'timeline'>('steps');
  const [col, colRef, setCol] = useRefState(0);
  const [playing, setPlaying] = useState(false);

  // Following a live run: the cursor is on the step the running side is in.
  const live = view ? liveStep(view) : null;
  const step = Math.max(0, Math.min(steps - 1, follow && live !== null ? live : cursor));
  const [a, b] = view?.sides ?? [null, null];
  const comparison = view?.comparison ?? null;
  const rowsOfStep = useMemo(() => (a && b && steps ? stepRows(a, b, step, steps, comparison) : []), [a, b, step, steps, comparison]);
  const marks = useMemo(() => (a && b && steps ? stepMarks(a, b, steps, comparison) : ''), [a, b, steps, comparison]);

  const moveStep = (d: number) => {
    setFollow(false);
    setScroll(0);
    setCursor(() => Math.max(0, Math.min(steps - 1, (followRef.current && live !== null ? live : cursorRef.current) + d)));
  };
  // Play: one step a second, both sides in step, to the last one.
  useEffect(() => {
    if (!playing) return;
    const timer = setInterval(() => {
      if (cursorRef.current >= steps - 1) return setPlaying(false);
      moveStep(1);
    }, 1000);
    return () => clearInterval(timer);
  }, [playing, steps]);

  const aligned = useMemo(() => {
    if (!a || !b || !view || shown !== 'timeline') return null;
    const sa = sideTimeline(a, view.shapes);
    const sb = sideTimeline(b, view.shapes);
    return { sa, sb, grid: alignedGrid(sa, sb, Math.max(1, steps), columns) };
  }, [a, b, view, shown, columns, steps]);

  const height = Math.max(16, rows - 1);
  const fixed = 7; // title, two side lines, steps strip, step line, status, key bar
  const body = height - fixed;

  const bindings: Binding[] = [
    { context: 'compare', keys: ['h', 'left', 'l', 'right'], show: 'h/l', bar: 'step', help: 'the step before or after (both sides)', run: ({ key }) => moveStep(key === 'l' || key === 'right' ? 1 : -1) },
    {
      context: 'compare',
      keys: ['d'],
      bar: 'next diff',
      help: 'the next step where the two sides differ',
      run: () => {
        const from = followRef.current && live !== null ? live : cursorRef.current;
        const next = [...marks].findIndex((m, i) => i > from && m === '*');
        if (next >= 0) moveStep(next - from);
      },
    },
    moveBinding('compare', 'scrolls the rows', (d) => setScroll((s) => Math.max(0, Math.min(Math.max(0, rowsOfStep.length - 1), s + d))), { bar: 'scroll' }),
    { context: 'compare', keys: ['space'], bar: playing ? 'stop' : 'play', help: 'plays the steps one a second on both sides, or stops', run: () => (setFollow(false), setPlaying((p) => !p)) },
    { context: 'compare', keys: ['f'], bar: live !== null ? (follow ? 'following' : 'follow') : undefined, help: 'follows the step a live side is in', when: live !== null, run: () => setFollow(true) },
    { context: 'compare', keys: ['t'], bar: 'timelines', help: "both runs' timelines, steps lined up", run: () => setShown('timeline') },
    { context: 'compare', keys: ['r'], bar: 'compare table', help: 'the compare table (as daxlab compare prints it); x exports it', run: () => go('compareReport') },
    {
      context: 'compareTimeline',
      keys: ['h', 'left', 'l', 'right'],
      show: 'h/l',
      bar: 'cursor',
      help: 'moves the cursor a column',
      run: ({ key }) => setCol((c) => Math.max(0, Math.min((aligned?.grid.cols ?? 1) - 1, c + (key === 'l' || key === 'right' ? 1 : -1)))),
    },
    {
      context: 'compareTimeline',
      keys: ['n', 'N'],
      show: 'n/N',
      bar: 'next/prev step',
      help: 'moves the cursor to the start of the next or previous step',
      run: ({ key }) => {
        const segs = aligned?.grid.segments ?? [];
        const c = colRef.current;
        const to = key === 'n' ? segs.find((s) => s.col > c) : [...segs].reverse().find((s) => s.col < c);
        if (to) setCol(to.col);
      },
    },
    { context: 'compareTimeline', keys: ['r'], bar: 'compare table', help: 'the compare table', run: () => go('compareReport') },
    { context: 'compareTimeline', keys: ['t', 'esc'], bar: 'steps', help: 'back to the steps side by side', run: () => setShown('steps') },
  ];
  const hints = useKeymap(() => (shownRef.current === 'timeline' ? 'compareTimeline' : 'compare'), bindings);

  if (!compare || !view) {
    return (
      <Box flexDirection="column" width={columns}>
        <TitleBar screen="compare" />
        <T tone="dim">No compare yet: on the profiles screen C marks a profile as A, then pick B and the scenario.</T>
        <KeyBar hints={hints} />
      </Box>
    );
  }
  const title = (
    <TitleBar screen={shown === 'timeline' ? 'compare timelines' : 'compare'}>
      <T bold>{view.scenario?.id ?? '?'}</T>
      <Text>A {sideName(a!)}</Text>
      <Text>B {sideName(b!)}</Text>
      {view.plan ? <T tone="dim">{view.plan}</T> : null}
    </TitleBar>
  );
  const status = view.error ? (
    <T tone="bad">{view.error}</T>
  ) : comparison ? (
    <T tone={comparison.exitCode === 0 ? 'ok' : comparison.exitCode === 1 ? 'hot' : 'warn'}>
      {comparison.outcome} (exit {comparison.exitCode})
    </T>
  ) : (
    <T tone="dim">the compare table comes when both runs are over</T>
  );

  if (shown === 'timeline' && aligned) {
    const g = aligned.grid;
    const cursorCol = Math.min(col, g.cols - 1);
    const readout = alignedReadout(aligned.sa, aligned.sb, g, cursorCol);
    const readW = Math.max(10, Math.floor((columns - g.labelW - 5) / 2));
    const room = Math.max(0, body - 3 - g.rows.length);
    const laneRoom = Math.max(4, body - 3 - Math.min(readout.rows.length, Math.max(room, Math.floor(body / 3))));
    const cursorStep = (g.segments.find((s) => cursorCol >= s.col && cursorCol < s.col + s.width)?.step ?? 0) + 1;
    return (
      <Box flexDirection="column" width={columns} height={height} overflow="hidden">
        {title}
        {sideLine('A', a!)}
        {sideLine('B', b!)}
        <Text wrap="truncate">
          <T tone="dim">{pad('steps', g.labelW + 2)} </T>
          <CursorCells text={g.ruler} tones={g.ruler.replace(/[^ ]/g, 's')} cursor={cursorCol} />
        </Text>
        {g.rows.slice(0, laneRoom).map((r) => (
          <Text key={`${r.lane}:${r.side}`} wrap="truncate">
            <T bold={r.side === 'A'} tone={r.side === 'B' ? 'dim' : undefined}>
              {r.side === 'A' ? pad(r.lane, g.labelW) : ' '.repeat(g.labelW)} {r.side}{' '}
            </T>
            {r.row ? <CursorCells text={r.row.cells} tones={r.row.tones} cursor={cursorCol} /> : <T tone="dim">{pad('(not on this side)', g.cols)}</T>}
          </Text>
        ))}
        <Text wrap="truncate">
          <T tone="accent" bold>
            cursor in step {cursorStep}
          </T>
          <T tone="dim"> (the same fraction of it on both sides)</T>
        </Text>
        <Text wrap="truncate">
          <T tone="dim">
            {pad('', g.labelW)}  {pad(`A at ${readout.at[0].toFixed(3)}s`, readW)} B at {readout.at[1].toFixed(3)}s
          </T>
        </Text>
        {readout.rows.slice(0, Math.max(0, body - 3 - Math.min(laneRoom, g.rows.length))).map((r) => (
          <Text key={r.lane} wrap="truncate">
            {pad(r.lane, g.labelW)}  {pad(r.a, readW)} {clip(r.b, readW)}
          </Text>
        ))}
        <Text wrap="truncate">{status}</Text>
        <KeyBar hints={hints} />
      </Box>
    );
  }

  // Steps side by side.
  const labelW = Math.min(26, Math.max(12, ...rowsOfStep.map((r) => r.label.length)));
  const colW = Math.max(10, Math.floor((columns - labelW - 4) / 2));
  const lines: React.ReactNode[] = [];
  let section: CompareRow['section'] | null = null;
  for (const r of rowsOfStep) {
    if (r.section !== section) {
      section = r.section;
      lines.push(
        <Text key={`h:${section}`} wrap="truncate">
          <T tone="accent" bold>
            {SECTION[section]}
          </T>
        </Text>,
      );
    }
    const tone: Tone | undefined = r.kind === 'differs' ? 'bad' : r.kind === 'not-comparable' ? 'dim' : undefined;
    lines.push(
      <Text key={`${r.section}:${r.id}`} wrap="truncate">
        <T tone={tone} bold={r.kind === 'differs'}>
          {MARK[r.kind]} {pad(r.label, labelW)}{' '}
        </T>
        <T tone={tone} inverse={r.kind === 'differs'}>
          {pad(r.a, colW)}
        </T>{' '}
        <T tone={tone} inverse={r.kind === 'differs'}>
          {clip(r.b, colW)}
        </T>
      </Text>,
    );
  }
  const differing = rowsOfStep.filter((r) => r.kind === 'differs').length;
  const top = Math.min(scroll, Math.max(0, lines.length - (body - 1)));
  return (
    <Box flexDirection="column" width={columns} height={height} overflow="hidden">
      {title}
      {sideLine('A', a!)}
      {sideLine('B', b!)}
      <Text wrap="truncate">
        <T tone="dim">steps </T>
        {[...marks].map((m, i) => (
          <T key={i} tone={m === '*' ? 'bad' : m === '.' ? 'dim' : 'ok'} inverse={i === step} bold={i === step}>
            {` ${i + 1}${m === '*' ? '*' : m === '.' ? '.' : '='}`}
          </T>
        ))}
        <T tone="dim"> (* differs, = same, . not reached by both)</T>
      </Text>
      <Text wrap="truncate">
        <T bold>
          step {step + 1}/{steps} {stepLabel(view.scenario, step)}
        </T>
        <T tone="dim">
          {' '}
          · A {stepTime(a!, step)} · B {stepTime(b!, step)}
          {follow && live !== null ? ' · following the live run' : ''}
        </T>
        {differing ? <T tone="bad"> · {differing} differ</T> : null}
      </Text>
      <Box flexDirection="column" height={body} overflow="hidden">
        <Text wrap="truncate">
          <T tone="dim">
            {'  '}
            {pad('', labelW)} {pad(`A ${sideName(a!)}`, colW)} {clip(`B ${sideName(b!)}`, colW)}
          </T>
        </Text>
        {lines.slice(top, top + body - 1)}
      </Box>
      <Text wrap="truncate">{status}</Text>
      <KeyBar hints={hints} />
    </Box>
  );
}

const TONE: Record<string, Tone | undefined> = { b: 'bad', a: 'accent', x: 'warn', i: 'dim', h: 'hot', H: 'hot', _: 'ok', w: 'bad', l: 'warn', f: 'dim', s: 'accent', '!': 'bad' };

/** Cells as runs of one tone, the cursor's column inverse. */
function CursorCells({ text, tones, cursor }: { text: string; tones: string; cursor: number }) {
  const parts: React.ReactNode[] = [];
  let i = 0;
  while (i < text.length) {
    let j = i + 1;
    const at = i === cursor;
    if (!at) while (j < text.length && tones[j] === tones[i] && j !== cursor) j++;
    parts.push(
      <T key={i} tone={TONE[tones[i]!]} inverse={at}>
        {at && text[i] === ' ' ? '│' : text.slice(i, j)}
      </T>,
    );
    i = j;
  }
  return <>{parts}</>;
}

