// The scenario's tasks: state, how long blocked, the top of the kernel stack, the last
// action and its result, signals, exit.
import React from 'react';
import type { LabState } from '../../lab/state.js';
import { T } from '../theme.js';
import { actorRows, clip, fmtMs, pad } from '../view.js';
import { Empty, Line, Panel, type StatePanelProps } from './Panel.js';

/** Lines the panel needs to show every actor and the stacks of the blocked ones. */
export function actorLinesNeeded(state: LabState, frames = 3): number {
  const rows = actorRows(state);
  return 1 + Math.max(1, rows.length) + rows.filter((r) => r.blocked).reduce((n, r) => n + Math.min(frames, r.stack.length), 0);
}

export function ActorsPanel({
  state,
  width,
  maxRows,
  frames = 3,
  focused,
  selected,
  highlight,
}: StatePanelProps & { frames?: number }) {
  const rows = actorRows(state);
  const lines: React.ReactNode[] = [];
  rows.forEach((r, i) => {
    const hot = highlight?.has(r.name);
    const tone = r.blocked ? 'bad' : r.state === 'R' ? 'ok' : undefined;
    lines.push(
      <Line key={r.name} inverse={focused && i === selected}>
        <T tone={hot ? 'hot' : undefined} bold>
          {pad(r.name, 10)}
        </T>
        {width >= 80 ? <T tone="dim">{pad(r.pid === null ? '' : String(r.pid), 6)}</T> : ''}
        <T tone={tone} bold={r.blocked}>
          {pad(`${r.state} ${r.blocked ? 'BLOCKED' : r.stateText}`, 12)}
        </T>
        <T tone={r.blocked ? 'bad' : 'dim'}>{pad(r.blocked ? fmtMs(r.blockedMs) : '', 9)}</T>
        <T tone="dim">{pad(r.blocked ? `in ${r.wchan}` : '', Math.min(32, Math.max(0, width - 68)))}</T>
        <T tone={r.lastActionBad ? 'bad' : undefined}>last: {clip(r.lastAction, Math.max(10, width - (width >= 80 ? 43 : 37) - Math.min(32, Math.max(0, width - 68))))}</T>
        {r.signal ? <T tone="warn"> {r.signal}</T> : ''}
        {r.exit ? <T tone="dim"> {r.exit}</T> : ''}
      </Line>,
    );
    // The stack of a blocked actor (or the selected one): where in the kernel it waits.
    if (r.blocked || (focused && i === selected)) {
      for (const f of r.stack.slice(0, frames)) {
        lines.push(
          <Line key={`${r.name}:${f}`}>
            <T tone="dim">{'            '}</T>
            <T tone={r.blocked ? 'warn' : 'dim'}>{clip(f, width - 12)}</T>
          </Line>,
        );
      }
    }
  });
  const blocked = rows.filter((r) => r.blocked).length;
  return (
    <Panel title="Actors" extra={`${rows.length}${blocked ? `, ${blocked} blocked` : ''}`} focused={focused} width={width}>
      {rows.length === 0 && <Empty>no actors yet</Empty>}
      {lines.length > maxRows ? lines.slice(0, Math.max(0, maxRows - 1)) : lines}
      {lines.length > maxRows && <Empty>… {lines.length - maxRows + 1} more lines (tab, j/k: select an actor)</Empty>}
    </Panel>
  );
}
