// The scenario's expectations with their live status; a violated one is a finding.
import type { ExpectationView } from '../model.js';
import { T, type Tone } from '../theme.js';
import { clip } from '../view.js';
import { Empty, Line, Panel } from './Panel.js';

const MARK: Record<ExpectationView['status'], [string, Tone]> = {
  pending: ['…', 'dim'],
  held: ['✓', 'ok'],
  violated: ['✗', 'bad'],
  'not-applicable': ['–', 'dim'],
};

/** What needs the eye first: violated, then undecided, then the newest decided ones. */
function ordered(list: readonly ExpectationView[]): ExpectationView[] {
  const rank = (e: ExpectationView) => (e.status === 'violated' ? 0 : e.status === 'pending' ? 1 : 2);
  return list
    .map((e, i) => ({ e, i }))
    .sort((a, b) => rank(a.e) - rank(b.e) || (rank(a.e) === 2 ? b.i - a.i : a.i - b.i))
    .map(({ e }) => e);
}

export function ExpectationsPanel({ expectations, width, maxRows, focused }: { expectations: readonly ExpectationView[]; width: number; maxRows: number; focused?: boolean }) {
  const held = expectations.filter((e) => e.status === 'held').length;
  const violated = expectations.filter((e) => e.status === 'violated').length;
  return (
    <Panel title="Expectations" extra={expectations.length ? `${held} held, ${violated} violated, ${expectations.length} in all` : undefined} focused={focused} width={width}>
      {expectations.length === 0 && <Empty>no scenario running</Empty>}
      {ordered(expectations).slice(0, maxRows).map((e) => {
        const [mark, tone] = MARK[e.status];
        // Narrow (Guided): the mark alone says the status.
        const word = width >= 80 ? ` ${e.status.padEnd(8)}` : '';
        return (
          <Line key={e.id}>
            <T tone={tone} bold>
              {mark}
              {word}
            </T>{' '}
            {clip(e.description, width - 2 - word.length)}
            {e.detail ? <T tone="dim"> — {e.detail}</T> : ''}
          </Line>
        );
      })}
    </Panel>
  );
}
