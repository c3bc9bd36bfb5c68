// The timeline view of the dashboard: the lanes over a window of guest time, a cursor
// column, and every lane's state at the cursor. The window and the cursor are the
// Live screen's state; this draws them.
import { Box, Text } from 'ink';
import type { Timeline } from '../../lab/timeline.js';
import { T, type Tone } from '../theme.js';
import { cursorLines, timelineGrid, type Row } from '../timelineText.js';
import { Panel } from './Panel.js';

const TONE: Record<string, Tone | undefined> = { b: 'bad', a: 'accent', x: 'warn', i: 'dim', h: 'hot', H: 'hot', _: 'ok', w: 'bad', l: 'warn', f: 'dim', s: 'accent', '!': 'bad' };

/** A row's cells as runs of one tone, the cursor's cell inverse. */
function Cells({ row, cursor }: { row: Row; cursor: number }) {
  const parts: React.ReactNode[] = [];
  let i = 0;
  while (i < row.cells.length) {
    let j = i + 1;
    const at = i === cursor;
    if (!at) while (j < row.cells.length && row.tones[j] === row.tones[i] && j !== cursor) j++;
    parts.push(
      <T key={i} tone={TONE[row.tones[i]!]} inverse={at}>
        {at && row.cells[i] === ' ' ? '│' : row.cells.slice(i, j)}
      </T>,
    );
    i = j;
  }
  return <>{parts}</>;
}

export type TimelineWindow = { from: number; to: number; cursor: number };

export function TimelinePanel({ timeline, window: w, width, height }: { timeline: Timeline; window: TimelineWindow; width: number; height: number }) {
  const grid = timelineGrid(timeline, { width, from: w.from, to: w.to });
  const cursor = grid.col(w.cursor);
  const readout = cursorLines(timeline, w.cursor, width, grid.labelW);
  const laneRows = grid.rows.slice(0, Math.max(3, height - 3));
  const room = Math.max(0, height - 2 - laneRows.length);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Panel title="Timeline" extra={`${w.from.toFixed(2)}s-${w.to.toFixed(2)}s · ${Math.round(grid.dt * 1000)} ms a column · cursor ${w.cursor.toFixed(3)}s`} width={width} focused>
        {laneRows.map((r) => (
          <Text key={`${r.kind}:${r.label}`} wrap="truncate">
            <T bold={r.kind === 'actor'} tone={r.kind === 'ruler' || r.kind === 'steps' ? 'dim' : undefined}>
              {(r.label.length > grid.labelW ? `~${r.label.slice(r.label.length - grid.labelW + 1)}` : r.label.padEnd(grid.labelW)) + ' '}
            </T>
            <Cells row={r} cursor={r.kind === 'ruler' ? -1 : cursor} />
          </Text>
        ))}
      </Panel>
      {room > 0 && (
        <Text wrap="truncate">
          <T tone="accent" bold>
            at {w.cursor.toFixed(3)}s
          </T>
          <T tone="dim"> (every lane at the cursor)</T>
        </Text>
      )}
      {readout.slice(0, Math.max(0, room - 1)).map((l, i) => (
        <Text key={i} wrap="truncate">
          {l}
        </Text>
      ))}
    </Box>
  );
}
