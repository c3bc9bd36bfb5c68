// Guided mode: the step's story beside the live panels. Each step runs, then the lab
// waits for "n"; the story says what happened in the kernel and why, and the rows that
// changed since the step began are marked in the panels.
import { Box, Text } from 'ink';
import { useEffect, useRef, useState } from 'react';
import { useNav } from './App.js';
import { useAppView, useController, useLabState, useTerminalSize } from './hooks.js';
import { Header, RunLine, StatusLine } from './Live.js';
import { ActorsPanel } from './panels/ActorsPanel.js';
import { ExpectationsPanel } from './panels/ExpectationsPanel.js';
import { LeasesPanel } from './panels/LeasesPanel.js';
import { LocksPanel } from './panels/LocksPanel.js';
import { Panel } from './panels/Panel.js';
import { PagesPanel } from './panels/PagesPanel.js';
import { EventsPanel } from './panels/EventsPanel.js';
import { T } from './theme.js';
import { interventionBindings, type Binding } from './keys.js';
import { KeyBar, useKeymap } from './keymap.js';
import { wrap } from './report.js';

export function Guided() {
  const state = useLabState();
  const view = useAppView();
  const controller = useController();
  const { go } = useNav();
  const { columns, rows } = useTerminalSize();
  const run = view.run;
  // The lab waits after a step: the user reads the step that just ran, with what it
  // changed; the next one is announced.
  const waiting = run?.status === 'waiting';
  const current = run?.current ?? 0;
  const upcoming = current + 1;
  // The step whose story is shown: the current one unless the user went back (b). A ref
  // as well as state, so a key typed before the next render sees the latest value.
  const [shown, setShownState] = useState(current);
  const shownRef = useRef(current);
  const following = useRef(true);
  const setShown = (i: number) => {
    shownRef.current = i;
    setShownState(i);
  };
  useEffect(() => {
    if (following.current) setShown(current);
  }, [current]);

  const nextOrStory = () => {
    if (!run) return;
    const at = shownRef.current;
    if (at < current) {
      setShown(at + 1);
      if (at + 1 === current) following.current = true;
    } else if (run.status === 'finished') go('report');
    else controller.next();
  };
  const nextLabel = !run ? '' : shown < current ? 'next (story)' : run.status === 'finished' ? 'report' : waiting ? `run step ${upcoming + 1}` : 'wait…';
  const bindings: Binding[] = [
    { context: 'guided', keys: ['n'], bar: nextLabel, help: 'runs the next step (or, browsing, shows the next story)', when: !!run, run: nextOrStory },
    {
      context: 'guided',
      keys: ['b'],
      bar: 'back',
      help: 'the story of the step before',
      when: !!run,
      run: () => {
        following.current = false;
        setShown(Math.max(0, shownRef.current - 1));
      },
    },
    ...interventionBindings('guided', run, (id) => controller.intervene(id)),
    { context: 'guided', keys: ['r'], bar: 'report', help: 'the report', when: !!run, run: () => go('report') },
  ];
  const hints = useKeymap('guided', bindings);

  if (!run) {
    return (
      <Box flexDirection="column">
        <Header state={state} view={view} screen="guided" />
        <T tone="dim">No scenario is running: esc goes back to the list, where g starts one guided.</T>
        <KeyBar hints={hints} />
      </Box>
    );
  }

  const step = run.scenario.steps[shown];
  const record = run.steps.find((s) => s.index === shown);
  const changes = record?.changes ?? [];
  const mark = (panel: string) => new Set(changes.filter((c) => c.panel === panel).map((c) => c.row));
  const watch = step?.watch;
  // The story is the point of this screen: half the width; the panels get the rest.
  const storyW = Math.max(40, Math.floor(columns * 0.49));
  const panelsW = columns - storyW - 1;
  const height = Math.max(16, rows - 1);
  const body = height - 4; // header, run line, status line, key bar
  const stepExp = run.expectations.filter((e) => e.step === shown);
  const changeLines = changes.slice(0, 5).flatMap((c) => wrap(`${c.panel}: ${c.text}`, storyW - 2).slice(0, 3).map((l, i) => `${i ? '  ' : '› '}${l}`));
  const expH = stepExp.length ? 1 + Math.min(3, stepExp.length) : 0;
  const storyLines = step?.say ? wrap(step.say, storyW) : [];
  const storyH = Math.max(4, Math.min(storyLines.length + 2 + (waiting ? 1 : 0), body - expH - (watch ? 1 : 0) - 3));
  const changesH = Math.max(2, body - storyH - expH - (watch ? 1 : 0));
  const nextStep = waiting && shown === current ? run.scenario.steps[upcoming] : undefined;
  const pagesH = 2 + Math.min(2, Math.max(1, Object.keys(state.refHistory).length));
  const locksH = 1 + Math.max(1, Math.min(3, Object.keys(state.locks).length));
  const leasesH = state.leases.length ? 1 + Math.min(2, state.leases.length) : 0;
  const actorsH = Math.max(3, body - pagesH - locksH - leasesH - 3);
  return (
    <Box flexDirection="column" width={columns} height={height} overflow="hidden">
      <Header state={state} view={view} screen="guided" />
      <RunLine view={view} />
      <Box height={body} overflow="hidden">
        <Box flexDirection="column" width={storyW}>
          <Box height={storyH} overflow="hidden">
            <Panel title={`Step ${shown + 1} of ${run.scenario.steps.length}`} extra={record?.skipped ? 'skipped: its condition did not hold' : shown < current || waiting ? 'done' : run.status} width={storyW}>
              <Text wrap="truncate">
                <T bold>{step?.label}</T>
              </Text>
              {storyLines.slice(0, storyH - 2 - (nextStep ? 1 : 0)).map((l, i) => (
                <Text key={i}>{l}</Text>
              ))}
              {nextStep && (
                <Text wrap="truncate">
                  <T tone="accent" bold>
                    n runs step {upcoming + 1}:
                  </T>{' '}
                  {nextStep.label}
                </Text>
              )}
            </Panel>
          </Box>
          {watch && (
            <Text wrap="truncate">
              <T tone="hot" bold>
                Look at
              </T>{' '}
              {watch.panel}
              {watch.row ? ` › ${watch.row}` : ''}
            </Text>
          )}
          <Box height={changesH} overflow="hidden">
            <Panel title="What changed" extra={record ? `since step ${shown + 1} began` : 'not run yet'} width={storyW}>
              {changeLines.length === 0 && <T tone="dim">  {record ? 'nothing yet' : '—'}</T>}
              {changeLines.map((l, i) => (
                <Text key={i} wrap="truncate">
                  <T tone={l.startsWith('›') ? 'hot' : undefined}>{l}</T>
                </Text>
              ))}
            </Panel>
          </Box>
          {expH > 0 && <ExpectationsPanel expectations={stepExp} width={storyW} maxRows={expH - 1} />}
        </Box>
        <Text> </Text>
        <Box flexDirection="column" width={panelsW}>
          <Box height={pagesH} overflow="hidden">
            <PagesPanel state={state} width={panelsW} maxRows={pagesH - 2} highlight={mark('pages')} focused={watch?.panel === 'pages'} />
          </Box>
          <Box height={actorsH} overflow="hidden">
            <ActorsPanel state={state} width={panelsW} maxRows={actorsH - 1} highlight={mark('actors')} focused={watch?.panel === 'actors'} />
          </Box>
          <Box height={locksH} overflow="hidden">
            <LocksPanel state={state} width={panelsW} maxRows={locksH - 1} highlight={mark('locks')} />
          </Box>
          {leasesH > 0 && (
            <Box height={leasesH} overflow="hidden">
              <LeasesPanel state={state} width={panelsW} maxRows={leasesH - 1} focused={watch?.panel === 'leases'} />
            </Box>
          )}
          <EventsPanel state={state} width={panelsW} maxRows={2} kind={null} text="" hideAgent />
        </Box>
      </Box>
      <StatusLine state={state} width={columns} />
      <KeyBar hints={hints} />
    </Box>
  );
}
