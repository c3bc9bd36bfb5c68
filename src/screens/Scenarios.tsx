// The scenario picker: title, thread, what it shows; / filters; enter runs, g runs guided.
import { Box, Text } from 'ink';
import { useMemo, useState } from 'react';
import { useCompare, useNav } from './App.js';
import { useAppView, useController, useTerminalSize } from './hooks.js';
import { moveBinding, textBindings, typeText, type Binding } from './keys.js';
import { KeyBar, useKeymap } from './keymap.js';
import { Panel } from './panels/Panel.js';
import { TitleBar } from './panels/TitleBar.js';
import { T } from './theme.js';
import { InputLine, useEditor } from './ui.js';
import { clip } from './view.js';

/** The first thread with its Message-ID always whole (what a reader searches for); the subject gives way. */
function threadLine(threads: readonly string[], width: number): string {
  const [first, ...rest] = threads;
  if (!first) return '';
  const more = rest.length ? ` (+${rest.length} more)` : '';
  const m = /^(.*) (<[^<>]+>)$/.exec(first);
  if (!m) return clip(first + more, width);
  return `${clip(m[1]!, Math.max(10, width - m[2]!.length - more.length - 1))} ${m[2]}${more}`;
}

export function Scenarios() {
  const controller = useController();
  const view = useAppView();
  const { go } = useNav();
  const { columns, rows } = useTerminalSize();
  const all = useMemo(() => controller.scenarios(), [controller]);
  const [filter, setFilter] = useState('');
  const [sel, setSel] = useState(0);
  const editor = useEditor();
  const editing = editor.editing;
  const editFilter = (f: (v: string) => string) => (setFilter(f), setSel(0));
  const needle = filter.toLowerCase();
  const list = all.filter((s) => !needle || [s.id, s.title, s.summary, ...s.threads].some((x) => x.toLowerCase().includes(needle)));
  const current = list[Math.min(sel, list.length - 1)];
  const ready = view.boot.status === 'ready';
  const busy = view.run && ['running', 'waiting', 'paused'].includes(view.run.status);

  // Picking the scenario of a compare (two profiles picked on the profiles screen).
  const { pending, start: startCompare } = useCompare();
  const comparing = pending?.b ? { a: pending.a, b: pending.b } : null;
  const sideName = (s: { kind: string; profile?: string; file?: string }) => s.profile ?? s.file ?? '?';
  const run = (guided: boolean) => {
    if (!current) return;
    if (comparing) return guided ? undefined : startCompare({ scenario: current.id, sides: [comparing.a, comparing.b] });
    if (busy && view.run?.scenario.id === current.id) return go(view.run.guided ? 'guided' : 'live');
    if (!ready || busy) return;
    controller.run(current.id, { guided });
    go(guided ? 'guided' : 'live');
  };
  const bindings: Binding[] = [
    moveBinding('scenarios', 'move', (d) => setSel((s) => Math.max(0, Math.min(list.length - 1, s + d)))),
    comparing
      ? { context: 'scenarios', keys: ['enter'], bar: 'compare', help: 'compares it on the two sides picked', run: () => run(false) }
      : { context: 'scenarios', keys: ['enter'], bar: 'run', help: 'runs it on the live dashboard', run: () => run(false) },
    { context: 'scenarios', keys: ['g'], bar: 'guided', help: 'runs it guided', when: !comparing, run: () => run(true) },
    {
      context: 'scenarios',
      keys: ['/'],
      bar: 'filter',
      help: 'filters the list',
      // "/" and what follows it may come in one read (typed fast, pasted).
      takesText: true,
      run: ({ rest }) => {
        editor.start();
        typeText(rest, editFilter, () => editor.stop());
      },
    },
    { context: 'scenarios', keys: ['l'], bar: 'dashboard', help: 'the dashboard of the run', when: !comparing, run: () => go('live') },
  ];
  const textRows = textBindings('scenarios.filter', editFilter, (how) => {
    if (how === 'cancel') setFilter('');
    editor.stop();
  }, { submit: 'apply', cancel: 'clear' });
  const hints = useKeymap('scenarios', [...bindings, ...textRows], () => (editor.ref.current ? 'filter' : null));

  const perItem = 4;
  const visible = Math.max(1, Math.floor((rows - 8) / perItem));
  const start = Math.max(0, Math.min(sel - visible + 1, list.length - visible));
  return (
    <Box flexDirection="column" width={columns}>
      {comparing ? (
        <TitleBar screen="scenarios">
          <T tone="accent" bold>
            compare A {sideName(comparing.a)} with B {sideName(comparing.b)}: pick the scenario
          </T>
        </TitleBar>
      ) : (
        <TitleBar screen="scenarios">
          <Text>profile {view.boot.profile || '-'}</Text>
          {ready ? <T tone="ok">guest ready</T> : <T tone="warn">guest {view.boot.status}</T>}
          {view.boot.kernel ? <T tone="dim">{view.boot.kernel}</T> : null}
        </TitleBar>
      )}
      <Panel title="Scenarios" extra={`${list.length} of ${all.length}${filter ? ` matching "${filter}"` : ''}`} width={columns}>
        {list.length === 0 && <T tone="dim">  nothing matches</T>}
        {list.slice(start, start + visible).map((s, i) => {
          const on = start + i === sel;
          return (
            <Box key={s.id} flexDirection="column">
              <Text wrap="truncate" inverse={on}>
                {on ? '› ' : '  '}
                <T bold tone="accent">
                  {s.id}
                </T>{' '}
                {s.title}
              </Text>
              <Text wrap="truncate">
                {'    '}
                <T tone="dim">{threadLine(s.threads, columns - 6)}</T>
              </Text>
              <Text wrap="truncate">
                {'    '}
                {clip(s.summary, columns - 6)}
              </Text>
              <Text wrap="truncate">
                {'    '}
                <T tone="dim">
                  {s.steps.length} steps{s.needs ? ` · needs ${s.needs}` : ''}
                  {s.interventions.length ? ` · you can: ${s.interventions.map((x) => x.label).join(', ')}` : ''}
                </T>
              </Text>
            </Box>
          );
        })}
      </Panel>
      {(editing || filter) && <InputLine label="filter: " value={filter} editing={editing} />}
      {!ready && !comparing && <T tone="warn">The guest is not up ({view.boot.status}): esc goes back to boot.</T>}
      {busy && !comparing && <T tone="dim">{view.run!.scenario.id} is running: enter on it goes back to its dashboard.</T>}
      <KeyBar hints={hints} />
    </Box>
  );
}
