// File leases from /proc/locks; a breaking lease counts down to fs.lease-break-time.
import type { LabState } from '../../lab/state.js';
import { T } from '../theme.js';
import { leaseRows, pad } from '../view.js';
import { Empty, Line, Panel } from './Panel.js';

export function LeasesPanel({ state, width, maxRows, focused }: { state: LabState; width: number; maxRows: number; focused?: boolean }) {
  const rows = leaseRows(state);
  const wide = width >= 70;
  return (
    <Panel title="Leases" extra={rows.length ? `${rows.length}` : undefined} focused={focused} width={width}>
      {rows.length === 0 && <Empty>no leases</Empty>}
      {rows.slice(0, maxRows).map((r, i) => (
        <Line key={`${r.file}:${r.pid}:${i}`}>
          {pad(r.file, 9)}
          <T tone="dim">{wide ? pad(`${r.type} ${r.mode}`, 13) : pad(r.mode, 6)}</T>
          {wide ? `pid ${pad(String(r.pid), 6)}` : ''}
          <T tone={r.breaking ? 'bad' : 'ok'} bold={r.breaking}>
            {pad(r.state, 9)}
          </T>
          {r.breaking && r.leftMs !== null ? (
            <T tone="bad" bold>
              breaks in {(r.leftMs / 1000).toFixed(1)} s
            </T>
          ) : (
            ''
          )}
        </Line>
      ))}
    </Panel>
  );
}
