// The report: verdicts and findings with evidence, the timeline, the transcript; x exports
// it as plain text wrapped at 72 columns and as Markdown next to the transcript.
import { Box, Text } from 'ink';
import { useState } from 'react';
import { useAppView, useController, useLabState, useTerminalSize } from './hooks.js';
import { moveBinding, type Binding } from './keys.js';
import { KeyBar, useKeymap } from './keymap.js';
import { TitleBar } from './panels/TitleBar.js';
import { buildReport, reportText } from './report.js';
import { T } from './theme.js';
import { lossSummary } from './view.js';

export function Report() {
  const state = useLabState();
  const view = useAppView();
  const controller = useController();
  const { columns, rows } = useTerminalSize();
  const [scroll, setScroll] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const report = buildReport(state, view.run, view.transcript, lossSummary(state));
  // The screen shows the same text the export writes, at the terminal's width.
  const lines = reportText(report, Math.min(columns - 2, 100)).split('\n');
  const height = Math.max(5, rows - 4);
  const max = Math.max(0, lines.length - height);
  const scrollBy = (d: number) => setScroll((s) => Math.max(0, Math.min(max, s + d)));
  const bindings: Binding[] = [
    moveBinding('report', 'scroll', scrollBy, { bar: 'scroll' }),
    { context: 'report', keys: ['pgdn', 'space'], show: 'space', help: 'a page down', run: () => scrollBy(height) },
    { context: 'report', keys: ['pgup'], help: 'a page up', run: () => scrollBy(-height) },
    {
      context: 'report',
      keys: ['x'],
      bar: 'export .txt (72 cols) + .md',
      help: 'exports plain text wrapped at 72 columns (for a mailing-list reply) and Markdown next to the transcript',
      run: () => {
        try {
          controller.exportReport();
          setError(null);
        } catch (err) {
          setError((err as Error).message);
        }
      },
    },
  ];
  const hints = useKeymap('report', bindings);
  const tone = (l: string) => (/VIOLATED|^Finding/.test(l) ? 'bad' : /\[held\]/.test(l) ? 'ok' : /^outcome/.test(l) ? 'accent' : undefined);
  return (
    <Box flexDirection="column" width={columns}>
      <TitleBar screen="report">
        <Text>{report.outcome}</Text>
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
        ) : view.exported ? (
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
