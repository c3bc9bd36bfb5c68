// The event log: actions, signals, exits and tracepoint events in time order, filtered by
// kind and by text; counts per kind in the title (evicted ones included).
import type { LabState } from '../../lab/state.js';
import { T } from '../theme.js';
import { filterLog, fmtT, logItems, logKinds, pad, type LogKind } from '../view.js';
import { Empty, Line, Panel } from './Panel.js';

export function EventsPanel({
  state,
  width,
  maxRows,
  focused,
  kind,
  text,
  scroll = 0,
  hideAgent = false,
}: {
  state: LabState;
  width: number;
  maxRows: number;
  focused?: boolean;
  kind: LogKind | null;
  text: string;
  /** Lines up from the newest. */
  scroll?: number;
  /** Hide the events of the agent's own task (its /proc/locks reads contend on file_rwsem). */
  hideAgent?: boolean;
}) {
  const kinds = logKinds(state).filter((k) => k.count > 0);
  const all = logItems(state);
  const items = filterLog(all, kind, text, hideAgent);
  const hidden = hideAgent ? filterLog(all, kind, text, false).length - items.length : 0;
  const end = Math.max(0, items.length - scroll);
  const shown = items.slice(Math.max(0, end - maxRows), end);
  const extra =
    `[${kind ?? 'all'}]${text ? ` /${text}` : ''}${hidden ? ` (${hidden} of the agent's own hidden: a)` : ''} ` + kinds.map((k) => `${k.kind} ${k.count}`).join(' · ') + (state.evictedEvents ? ` · ${state.evictedEvents} evicted` : '');
  return (
    <Panel title="Events" extra={extra} focused={focused} width={width}>
      {shown.length === 0 && <Empty>{items.length === 0 && (kind || text) ? 'nothing matches the filter' : 'no events yet'}</Empty>}
      {shown.map((it, i) => (
        <Line key={`${it.t}:${i}`}>
          <T tone="dim">{fmtT(it.t).padStart(9)} </T>
          <T tone={it.bad ? 'bad' : it.kind === 'action' ? 'accent' : 'dim'}>{pad(it.kind, 8)}</T> {it.text}
        </Line>
      ))}
      {scroll > 0 && <Empty>↓ {scroll} newer</Empty>}
    </Panel>
  );
}
