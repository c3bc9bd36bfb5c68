// The frame of a screen that shows a text its export writes (the report, the compare
// table): the title bar, the text at the terminal's width (at most 100 columns) scrolled
// by line and by page, a status line (which lines are shown, what x exported, or why the
// export failed) and the key bar.
import { Box, Text } from 'ink';
import { useState, type ReactNode } from 'react';
import { useTerminalSize } from './hooks.js';
import { moveBinding, type Binding } from './keys.js';
import { KeyBar, useKeymap } from './keymap.js';
import { TitleBar } from './panels/TitleBar.js';
import { T, type Tone } from './theme.js';

export type ReportExport = {
  /** Its label in the key bar and its line in the help. */
  bar: string;
  help: string;
  /** Off: no export yet (x neither shown nor dispatched). */
  when?: boolean;
  /** Writes the files; a throw is shown as "export failed". */
  run: () => void;
};

export type ReportFrameProps = {
  /** The key context (the help's section) and the title bar's screen name. */
  context: string;
  screen: string;
  title: ReactNode;
  /** The text's lines at a width. */
  lines: (width: number) => string[];
  tone: (line: string) => Tone | undefined;
  exportKey: ReportExport;
  /** The files the last export wrote. */
  exported: readonly string[] | null | undefined;
};

export function ReportFrame({ context, screen, title, lines: linesAt, tone, exportKey, exported }: ReportFrameProps) {
  const { columns, rows } = useTerminalSize();
  const [scroll, setScroll] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const lines = linesAt(Math.min(columns - 2, 100));
  const height = Math.max(5, rows - 4);
  const max = Math.max(0, lines.length - height);
  const scrollBy = (d: number) => setScroll((s) => Math.max(0, Math.min(max, s + d)));
  const bindings: Binding[] = [
    moveBinding(context, 'scroll', scrollBy, { bar: 'scroll' }),
    { context, keys: ['pgdn', 'space'], show: 'space', help: 'a page down', run: () => scrollBy(height) },
    { context, keys: ['pgup'], help: 'a page up', run: () => scrollBy(-height) },
    {
      context,
      keys: ['x'],
      bar: exportKey.bar,
      help: exportKey.help,
      ...(exportKey.when !== undefined ? { when: exportKey.when } : {}),
      run: () => {
        try {
          exportKey.run();
          setError(null);
        } catch (err) {
          setError((err as Error).message);
        }
      },
    },
  ];
  const hints = useKeymap(context, bindings);
  return (
    <Box flexDirection="column" width={columns}>
      <TitleBar screen={screen}>{title}</TitleBar>
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
        ) : exported ? (
          <T tone="ok">exported: {exported.join(', ')}</T>
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
