// File leases from /proc/locks; a breaking lease counts down to fs.lease-break-time.
import React from 'react';
import type { LabState } from '../../lab/state.js';
import { T } from '../theme.js';
import { leaseRows, pad } from '../view.js';
import { Empty, Line, Panel } from './Panel.js';

export function LeasesPanel({ state, width, maxRows, focused }: { state: LabState; width: number; maxRows: number; focused?: boolean }) {
  const rows = leaseRows(state);
  return (
    <Panel title="Leases" extra={rows.length ? `${rows.length}` : undefined} focused={focused} width={width}>
      {rows.length === 0 && <Empty>no leases</Empty>}
      {rows.slice(0, maxRows).map((r, i) => (
        <Line key={`${r.file}:${r.pid}:${i}`}>
          {pad(r.file, 10)} <T tone="dim">{pad(`${r.type} ${r.mode}`, 14)}</T> pid {pad(String(r.pid), 6)}
          <T tone={r.breaking ? 'bad' : 'ok'} bold={r.breaking}>
            {pad(r.state, 10)}
          </T>
          {r.breaking && r.leftMs !== null ? (
            <T tone="bad" bold>
              {' '}breaks in {(r.leftMs / 1000).toFixed(1)} s
            </T>
          ) : (
            ''
          )}
        </Line>
      ))}
    </Panel>
  );
}
