// The compare table: what `daxlab compare` prints (src/screens/compareReport.ts), at the
// terminal's width; x exports it as text wrapped at 72 columns (for a mailing-list reply),
// Markdown and JSON next to the first side's transcript.
import { Text } from 'ink';
import { useCompare } from './App.js';
import { useCompareView } from './Compare.js';
import { compareText } from './compareReport.js';
import { ReportFrame } from './ReportFrame.js';
import type { Tone } from './theme.js';

const tone = (l: string): Tone | undefined =>
  /^\s*\* /.test(l) || /^Differences/.test(l) || /VIOLATED/.test(l) ? 'bad' : /^outcome/.test(l) ? 'accent' : /^Same on both|^\s*\? /.test(l) ? 'dim' : undefined;

export function CompareReport() {
  const { compare } = useCompare();
  const view = useCompareView(compare);
  const c = view?.comparison ?? null;
  const lines = (width: number) =>
    c
      ? compareText(c, width).split('\n')
      : [view?.error ?? 'The compare table comes when both runs are over.', ...(view ? view.sides.map((s, i) => `${i ? 'B' : 'A'}: ${s.label}: ${s.status}${s.note ? ` (${s.note})` : ''}`) : [])];
  return (
    <ReportFrame
      context="compareReport"
      screen="compare table"
      title={<Text>{c ? `${c.outcome} (exit ${c.exitCode})` : 'not ready'}</Text>}
      lines={lines}
      tone={tone}
      exportKey={{
        bar: 'export .txt (72 cols) + .md + .json',
        help: 'exports the compare table as plain text wrapped at 72 columns (for a mailing-list reply), Markdown and JSON next to the first transcript',
        when: !!c,
        run: () => compare?.exportCompare(),
      }}
      exported={view?.exported}
    />
  );
}
