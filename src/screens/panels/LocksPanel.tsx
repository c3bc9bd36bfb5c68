// The rwsems reachable from the watched pages: state, owner, waiters, for how long.
import type { LabState } from '../../lab/state.js';
import { T } from '../theme.js';
import { fmtMs, lockRows, pad } from '../view.js';
import { Empty, Line, Panel } from './Panel.js';

export function LocksPanel({ state, width, maxRows, focused, highlight }: { state: LabState; width: number; maxRows: number; focused?: boolean; highlight?: ReadonlySet<string> }) {
  const rows = lockRows(state);
  const busy = rows.filter((r) => r.busy).length;
  // Busy locks first: at a glance, who holds what.
  const sorted = [...rows].sort((a, b) => Number(b.busy) - Number(a.busy));
  const shown = sorted.length > maxRows ? sorted.slice(0, Math.max(0, maxRows - 1)) : sorted;
  const nameW = Math.min(26, Math.max(14, Math.floor(width * 0.46)));
  return (
    <Panel title="Locks" extra={`${rows.length} watched, ${busy} busy`} focused={focused} width={width}>
      {rows.length === 0 && <Empty>no watched locks yet</Empty>}
      {shown.map((r) => {
        const hot = highlight?.has(r.key);
        return (
          <Line key={r.key}>
            <T tone={hot ? 'hot' : undefined} bold={hot}>
              {pad(`${r.file}:${r.lock}`, nameW)}
            </T>{' '}
            <T tone={r.busy ? 'warn' : 'dim'} bold={r.busy}>
              {pad(r.error ? `error: ${r.error}` : r.state, 6)}
            </T>
            {r.owner ? ` by ${r.owner}` : ''}
            {r.waiters ? <T tone="bad"> waiting: {r.waiters}</T> : ''}
            <T tone="dim"> {r.busy ? fmtMs(r.forMs) : ''}</T>
          </Line>
        );
      })}
      {rows.length > shown.length && <Empty>{rows.length - shown.length} more free</Empty>}
    </Panel>
  );
}
