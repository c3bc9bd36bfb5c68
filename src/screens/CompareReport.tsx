// The compare table: what `daxlab compare` prints (src/screens/compareReport.ts), at the
// terminal's width; x exports it as text wrapped at 72 columns (for a mailing-list reply),
// Markdown and JSON next to the first side's transcript.
import { Box, Text } from 'ink';
import { useState } from 'react';
import { useCompare } from './App.js';
import { useCompareView } from './Compare.js';
import { compareText } from './compareReport.js';
import { useTerminalSize } from './hooks.js';
import { moveBinding, type Binding } from './keys.js';
import { KeyBar, useKeymap } from './keymap.js';
import { TitleBar } from './panels/TitleBar.js';
import { T, type Tone } from './theme.js';

export function CompareReport() {
  const { compare } = useCompare();
  const view = useCompareView(compare);
  const { columns, rows } = useTerminalSize();
  const [scroll, setScroll] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const c = view?.comparison ?? null;
  const lines = c
    ? compareText(c, Math.min(columns - 2, 100)).split('\n')
    : [view?.error ?? 'The compare table comes when both runs are over.', ...(view ? view.sides.map((s, i) => `${i ? 'B' : 'A'}: ${s.label}: ${s.status}${s.note ? ` (${s.note})` : ''}`) : [])];
  const height = Math.max(5, rows - 4);
  const max = Math.max(0, lines.length - height);
  const scrollBy = (d: number) => setScroll((s) => Math.max(0, Math.min(max, s + d)));
  const bindings: Binding[] = [
    moveBinding('compareReport', 'scroll', scrollBy, { bar: 'scroll' }),
    { context: 'compareReport', keys: ['pgdn', 'space'], show: 'space', help: 'a page down', run: () => scrollBy(height) },
    { context: 'compareReport', keys: ['pgup'], help: 'a page up', run: () => scrollBy(-height) },
    {
      context: 'compareReport',
      keys: ['x'],
      bar: 'export .txt (72 cols) + .md + .json',
      help: 'exports the compare table as plain text wrapped at 72 columns (for a mailing-list reply), Markdown and JSON next to the first transcript',
      when: !!c,
      run: () => {
        try {
          compare?.exportCompare();
          setError(null);
        } catch (err) {
          setError((err as Error).message);
        }
      },
    },
  ];
  const hints = useKeymap('compareReport', bindings);
  const tone = (l: string): Tone | undefined =>
    /^\s*\* /.test(l) || /^Differences/.test(l) || /VIOLATED/.test(l) ? 'bad' : /^outcome/.test(l) ? 'accent' : /^Same on both|^\s*\? /.test(l) ? 'dim' : undefined;
  return (
    <Box flexDirection="column" width={columns}>
      <TitleBar screen="compare table">
        <Text>{c ? `${c.outcome} (exit ${c.exitCode})` : 'not ready'}</Text>
      </TitleBar>
      <Box flexDirection="column" height={height}>
        {lines.slice(scroll, scroll + height).map((l, i) => (
          <Text key={i} wrap="truncate">
            <T tone={tone(l)}>{l}</T>
          </Text>
        ))}
      </Box>
      <Text wrap="truncate">
        {error ? (
          <T tone="bad">export failed: {error}</T>
        ) : view?.exported ? (
          <T tone="ok">exported: {view.exported.join(', ')}</T>
        ) : (
          <T tone="dim">
            lines {scroll + 1}-{Math.min(lines.length, scroll + height)} of {lines.length}
          </T>
        )}
      </Text>
      <KeyBar hints={hints} />
    </Box>
  );
}
