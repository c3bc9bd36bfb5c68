// Guided mode: the step's story beside the live panels. Each step runs, then the lab
// waits for "n"; the story says what happened in the kernel and why, and the rows that
// changed since the step began are marked in the panels.
import { Box, Text, useInput } from 'ink';
import React, { useEffect, useState } from 'react';
import { useNav } from './App.js';
import { useAppView, useController, useLabState, useTerminalSize } from './hooks.js';
import { Header, RunLine, StatusLine } from './Live.js';
import { ActorsPanel } from './panels/ActorsPanel.js';
import { ExpectationsPanel } from './panels/ExpectationsPanel.js';
import { KeyBar, type KeyHint } from './panels/KeyBar.js';
import { LeasesPanel } from './panels/LeasesPanel.js';
import { LocksPanel } from './panels/LocksPanel.js';
import { Panel } from './panels/Panel.js';
import { PagesPanel } from './panels/PagesPanel.js';
import { EventsPanel } from './panels/EventsPanel.js';
import { T } from './theme.js';
import { useUi } from './ui.js';
import { wrap } from './report.js';

export function Guided() {
  const state = useLabState();
  const view = useAppView();
  const controller = useController();
  const { go } = useNav();
  const { active } = useUi();
  const { columns, rows } = useTerminalSize();
  const run = view.run;
  const current = run?.current ?? 0;
  const [shown, setShown] = useState(current);
  // Follow the run unless the user is reading an earlier step.
  const [following, setFollowing] = useState(true);
  useEffect(() => {
    if (following) setShown(current);
  }, [current, following]);

  useInput(
    (input) => {
      if (!run) return;
      if (input === 'n') {
        if (shown < current) {
          setShown(shown + 1);
          if (shown + 1 === current) setFollowing(true);
        } else if (run.status === 'finished') go('report');
        else controller.next();
      } else if (input === 'b') {
        setFollowing(false);
        setShown((s) => Math.max(0, s - 1));
      } else if (input === 'r') go('report');
      else {
        const iv = run.scenario.interventions.find((i) => i.key === input);
        if (iv) controller.intervene(iv.id);
      }
    },
    { isActive: active },
  );

  if (!run) {
    return (
      <Box flexDirection="column">
        <Header state={state} view={view} screen="guided" />
        <T tone="dim">No scenario is running: esc goes back to the list, where g starts one guided.</T>
        <KeyBar keys={[]} width={columns} />
      </Box>
    );
  }

  const step = run.scenario.steps[shown];
  const record = run.steps.find((s) => s.index === shown);
  const changes = record?.changes ?? [];
  const mark = (panel: string) => new Set(changes.filter((c) => c.panel === panel).map((c) => c.row));
  const watch = step?.watch;
  const storyW = Math.max(36, Math.floor(columns * 0.4));
  const panelsW = columns - storyW - 1;
  const body = rows - 4;
  const storyLines = step?.say ? wrap(step.say, storyW - 2) : [];
  const stepExp = run.expectations.filter((e) => e.step === shown);
  const nextLabel =
    shown < current ? 'next (story)' : run.status === 'finished' ? 'report' : run.status === 'waiting' ? `run step ${current + 2}` : 'wait…';
  const keys: KeyHint[] = [
    ['n', nextLabel],
    ['b', 'back'],
    ...run.scenario.interventions.map((i): KeyHint => [i.key, i.label]),
    ['r', 'report'],
  ];
  const pagesRows = 3;
  const actorRows = Math.max(3, Math.floor((body - 12) / 2));
  return (
    <Box flexDirection="column" width={columns}>
      <Header state={state} view={view} screen="guided" />
      <RunLine view={view} />
      <Box>
        <Box flexDirection="column" width={storyW} height={body - 1}>
          <Panel title={`Step ${shown + 1} of ${run.scenario.steps.length}`} extra={shown < current ? 'done' : run.status} width={storyW}>
            <Text wrap="truncate">
              <T bold>{step?.label}</T>
            </Text>
            {storyLines.slice(0, Math.max(3, body - 12 - changes.length)).map((l, i) => (
              <Text key={i}>{l}</Text>
            ))}
          </Panel>
          {watch && (
            <Text wrap="truncate">
              <T tone="hot" bold>
                Look at
              </T>{' '}
              {watch.panel}
              {watch.row ? ` › ${watch.row}` : ''}
            </Text>
          )}
          <Panel title="What changed" extra={record ? `since step ${shown + 1} began` : 'not run yet'} width={storyW}>
            {changes.length === 0 && <T tone="dim">  {record ? 'nothing yet' : '—'}</T>}
            {changes.slice(0, 6).map((c, i) => (
              <Text key={i} wrap="truncate">
                <T tone="hot">›</T> <T tone="dim">{c.panel}</T> {c.text}
              </Text>
            ))}
          </Panel>
          {stepExp.length > 0 && <ExpectationsPanel expectations={stepExp} width={storyW} maxRows={3} />}
        </Box>
        <Text> </Text>
        <Box flexDirection="column" width={panelsW}>
          <PagesPanel state={state} width={panelsW} maxRows={pagesRows} highlight={mark('pages')} focused={watch?.panel === 'pages'} />
          <ActorsPanel state={state} width={panelsW} maxRows={actorRows} highlight={mark('actors')} focused={watch?.panel === 'actors'} />
          <LocksPanel state={state} width={panelsW} maxRows={3} highlight={mark('locks')} />
          <LeasesPanel state={state} width={panelsW} maxRows={2} focused={watch?.panel === 'leases'} />
          <EventsPanel state={state} width={panelsW} maxRows={3} kind={null} text="" />
        </Box>
      </Box>
      <StatusLine state={state} width={columns} />
      <KeyBar keys={keys} width={columns} />
    </Box>
  );
}
