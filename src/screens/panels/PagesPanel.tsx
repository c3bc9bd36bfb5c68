// Watched pages: refcount, distance from the idle refcount, pins, mapcount, flags, DAX entry,
// and the refcount over the run as a sparkline; the vmstat pin counters in the title.
import { T } from '../theme.js';
import { pad, padL, pageRows, pinCounters, refSeries, sparkline } from '../view.js';
import { Empty, Line, Panel, type StatePanelProps } from './Panel.js';

export function PagesPanel({
  state,
  width,
  maxRows,
  focused,
  selected,
  highlight,
}: StatePanelProps) {
  const rows = pageRows(state);
  const pins = pinCounters(state);
  const extra =
    `${rows.length} watched` +
    (pins.acquired !== null ? ` · ${width < 80 ? 'pins' : 'nr_foll_pin'} acquired +${pins.acquired} released +${pins.released ?? 0}${width < 80 ? '' : ' (vmstat, lags)'}` : '');
  // Narrow (Guided's side column): no pfn, mapcount or flags; the sparkline stays.
  const compact = width < 80;
  const fixed = compact ? 10 + 6 + 6 + 5 + 9 + 2 : 12 + 10 + 6 + 6 + 5 + 4 + 9 + 13 + 8;
  const sparkW = Math.max(6, width - fixed - (compact ? 10 : 12));
  const start = Math.max(0, Math.min((selected ?? 0) - maxRows + 1, rows.length - maxRows));
  const shown = rows.slice(start, start + Math.max(1, maxRows));
  return (
    <Panel title="Pages" extra={extra} focused={focused} width={width}>
      <Line>
        <T tone="dim">
          {compact
            ? `${pad('page', 10)}${padL('ref', 6)}${padL('+idle', 6)}${padL('pins', 5)} ${pad('entry', 9)}refcount`
            : `${pad('page', 12)} ${pad('pfn', 10)}${padL('ref', 6)}${padL('+idle', 6)}${padL('pins', 5)}${padL('map', 4)} ${pad('entry', 9)}${pad('flags', 13)} refcount over the run`}
        </T>
      </Line>
      {rows.length === 0 && <Empty>no watched pages yet</Empty>}
      {shown.map((r, i) => {
        const series = refSeries(r.history);
        const lo = series.length ? Math.min(...series) : r.ref;
        const hi = series.length ? Math.max(...series) : r.ref;
        const above = r.aboveIdle > 0;
        const hot = highlight?.has(r.key);
        if (compact)
          return (
            <Line key={r.key}>
              <T tone={hot ? 'hot' : undefined} bold={hot}>
                {pad(r.key, 10)}
              </T>
              <T tone={above ? 'warn' : undefined} bold={above}>
                {padL(String(r.ref), 6)}
              </T>
              <T tone={above ? 'warn' : 'dim'}>{padL(r.aboveIdle > 0 ? `+${r.aboveIdle}` : String(r.aboveIdle), 6)}</T>
              <T tone={r.pins ? 'hot' : 'dim'}>{padL(String(r.pins), 5)}</T> {pad(r.stale ? '(gone)' : r.entry, 9)}
              <T tone="accent">{sparkline(series, sparkW)}</T>
              <T tone="dim"> {lo === hi ? `${lo}` : `${lo}..${hi}`}</T>
            </Line>
          );
        return (
          <Line key={r.key} inverse={focused && start + i === selected}>
            <T tone={hot ? 'hot' : undefined} bold={hot}>
              {pad(r.key, 12)}
            </T>{' '}
            <T tone="dim">{pad(r.stale ? '(gone)' : r.pfn, 10)}</T>
            <T tone={above ? 'warn' : undefined} bold={above}>
              {padL(String(r.ref), 6)}
            </T>
            <T tone={above ? 'warn' : 'dim'}>{padL(r.aboveIdle > 0 ? `+${r.aboveIdle}` : String(r.aboveIdle), 6)}</T>
            <T tone={r.pins ? 'hot' : 'dim'}>{padL(String(r.pins), 5)}</T>
            {padL(String(r.mapcount), 4)} {pad(r.entry, 9)}
            <T tone="dim">{pad(r.error ?? [...r.flags, ...(r.lruBatch ? ['lru-batch'] : [])].join(','), 13)}</T>{' '}
            <T tone="accent">{sparkline(series, sparkW)}</T>
            <T tone="dim"> {lo === hi ? `${lo}` : `${lo}..${hi}`}</T>
          </Line>
        );
      })}
      {rows.length > shown.length && <Empty>{rows.length - shown.length} more (tab to focus, j/k to scroll)</Empty>}
    </Panel>
  );
}
