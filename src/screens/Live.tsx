// The live dashboard: pages, actors, locks, leases, expectations and the event log, all
// rendered from LabState; keys to pause, step, filter and act on the scenario's actors.
import { Box, Text, useFocus, useFocusManager } from 'ink';
import React, { useEffect, useMemo, useRef, useState } from 'react';
import type { LabState } from '../lab/state.js';
import { useNav } from './App.js';
import { useAppView, useController, useLabState, useTerminalSize } from './hooks.js';
import type { AppView, ExpectationView } from './model.js';
import { ActorsPanel, actorLinesNeeded } from './panels/ActorsPanel.js';
import { EventsPanel } from './panels/EventsPanel.js';
import { ExpectationsPanel } from './panels/ExpectationsPanel.js';
import { LeasesPanel } from './panels/LeasesPanel.js';
import { LocksPanel } from './panels/LocksPanel.js';
import { PagesPanel } from './panels/PagesPanel.js';
import { TitleBar } from './panels/TitleBar.js';
import { T } from './theme.js';
import { interventionBindings, moveBinding, textBindings, typeText, type Binding } from './keys.js';
import { KeyBar, useKeymap } from './keymap.js';
import { TimelinePanel } from './panels/TimelinePanel.js';
import { ProbesPanel } from './panels/ProbesPanel.js';
import { runTimeline } from './timelineText.js';
import { focusTime, type Timeline } from '../lab/timeline.js';
import { InputLine, useEditor, useRefState } from './ui.js';
import { fastPaths, lazy, panelMemo } from './perf.js';

// Panels whose slices of the state change less often than the frames (a flood of events moves none of them).
const Pages = panelMemo(PagesPanel, (s: LabState) => [s.pages, s.refHistory, s.vmstat]);
const Expectations = React.memo(
  ExpectationsPanel,
  (a, b) => fastPaths.memoViews && a.expectations === b.expectations && a.width === b.width && a.maxRows === b.maxRows && a.focused === b.focused,
);
const NO_EXPECTATIONS: readonly ExpectationView[] = [];
import { actorRows, fmtT, logKinds, lossSummary, pageRows, type LogKind } from './view.js';

export function Header({ state, view, screen }: { state: LabState; view: AppView; screen: string }) {
  const kernel = state.kernel?.release ?? view.boot.kernel ?? 'kernel ?';
  const profile = state.run?.profile || view.boot.profile;
  return (
    <TitleBar screen={screen}>
      <Text>{view.source === 'replay' ? 'replay' : 'live'}</Text>
      <Text>profile {profile}</Text>
      <Text>{kernel}</Text>
      {view.boot.mount ? <T tone="dim">{view.boot.mount}</T> : null}
      <T tone="dim">t={state.lastT === null ? '-' : fmtT(state.lastT)}</T>
    </TitleBar>
  );
}

export function RunLine({ view }: { view: AppView }) {
  const run = view.run;
  const parts: React.ReactNode[] = [];
  if (run) {
    const step = run.scenario.steps[Math.min(run.current, run.scenario.steps.length - 1)];
    const tone = run.couldNotTest ? 'warn' : run.status === 'failed' ? 'bad' : run.status === 'finished' ? 'ok' : run.status === 'running' ? 'accent' : 'warn';
    parts.push(
      <Text key="run">
        <T bold>{run.scenario.id}</T>
        {run.guided ? ' (guided)' : ''} · step {Math.min(run.current + 1, run.scenario.steps.length)}/{run.scenario.steps.length}
        {step ? ` ${step.label}` : ''} ·{' '}
        <T tone={tone} bold>
          {run.couldNotTest ? 'could not test' : run.status}
        </T>
        {run.couldNotTest ? <T tone="warn"> {run.couldNotTest}</T> : ''}
        {run.error ? <T tone="bad"> {run.error}</T> : ''}
        {run.note ? <T tone="dim"> · {run.note}</T> : ''}
      </Text>,
    );
  }
  if (view.replay) {
    // The replay's state first: whether it runs is what the user needs to know.
    const r = view.replay;
    parts.unshift(
      <T key="replay" tone={r.paused ? 'warn' : 'dim'} bold={r.paused}>
        replay {r.speed}x {r.done ? 'END' : r.paused ? 'PAUSED' : '▶'} {r.position}/{r.total}
        {r.problems.length ? ` · ${r.problems.length} damaged lines` : ''}
        {parts.length ? ' │ ' : ''}
      </T>,
    );
  }
  if (!parts.length) parts.push(<T key="none" tone="dim">no scenario running: esc picks one</T>);
  return <Text wrap="truncate">{parts}</Text>;
}

export function StatusLine({ state, width }: { state: LabState; width: number }) {
  const { store } = useController();
  const loss = lossSummary(state);
  const text =
    `msgs ${state.messageCount} · snapshots ${state.snapshotCount} · frames ${store.stats.frames} (≤${store.maxFps}/s, up to ${store.stats.maxBatch} msgs each)` +
    // what was lost is said once, in the warning after this (lossSummary)
    (state.dropped.events || state.dropped.snapshots ? '' : ' · agent dropped nothing');
  return (
    <Text wrap="truncate">
      <T tone="dim">{text.slice(0, width)}</T>
      {loss.length ? <T tone="warn"> · {loss.join(' · ')}</T> : ''}
    </Text>
  );
}

type Focus = 'pages' | 'actors' | 'events';
const FOCI: Focus[] = ['pages', 'actors', 'events'];

/**
 * The dashboard's focusable panels, through Ink's focus manager (tab order is render
 * order). Ink drops the focus on esc; the panel focused last keeps it then.
 */
function usePanelFocus(): { focus: Focus; focusPanel(id: Focus): void; next(): void; previous(): void } {
  const pages = useFocus({ id: 'pages', autoFocus: true });
  const actors = useFocus({ id: 'actors' });
  const events = useFocus({ id: 'events' });
  const manager = useFocusManager();
  const now: Focus | null = pages.isFocused ? 'pages' : actors.isFocused ? 'actors' : events.isFocused ? 'events' : null;
  const last = useRef<Focus>('pages');
  if (now) last.current = now;
  useEffect(() => {
    if (!now) manager.focus(last.current);
  }, [now]);
  const focus = now ?? last.current;
  const step = (d: number) => manager.focus(FOCI[(FOCI.indexOf(focus) + d + FOCI.length) % FOCI.length]!);
  return { focus, focusPanel: manager.focus, next: () => step(1), previous: () => step(-1) };
}

/** The timeline's window: a span of guest time (null: the whole run) around a cursor (null: the first finding, else the end). */
type Window = { span: number | null; from: number | null; cursor: number | null };

function windowOf(tl: Timeline, w: Window) {
  const whole = Math.max(1e-3, tl.end - tl.start);
  const span = Math.min(whole, w.span ?? whole);
  const cursor = Math.max(tl.start, Math.min(tl.end, w.cursor ?? focusTime(tl)));
  let from = w.from ?? (w.span === null ? tl.start : cursor - span / 2);
  // The cursor stays in view; the window stays on the run.
  if (cursor < from) from = cursor;
  if (cursor > from + span) from = cursor - span;
  from = Math.max(tl.start, Math.min(tl.end - span, from));
  return { from, to: from + span, cursor, span };
}

/** The keys of the timeline view: cursor, scroll, zoom, jumps, and back to the panels. */
function timelineBindings(timeline: () => Timeline, win: { readonly current: Window }, setW: (w: Window) => void, cols: number, back: () => void): Binding[] {
  // Read when the key arrives: keys faster than a render each move from where the last one left.
  const now = () => {
    const cur = windowOf(timeline(), win.current);
    return { w: win.current, cur, dt: cur.span / cols };
  };
  const marks = lazy(() => {
    const tl = timeline();
    return [...tl.steps.flatMap((s) => (s.start === null ? [] : [s.start])), ...tl.verdicts.flatMap((v) => (v.finding && v.t !== null ? [v.t] : []))].sort((a, b) => a - b);
  });
  const cursorTo = (t: number) => {
    const { w, cur } = now();
    setW({ ...w, from: cur.from, cursor: t });
  };
  const zoom = (f: number) => {
    const { cur } = now();
    setW({ span: Math.max(0.005, cur.span * f), from: null, cursor: cur.cursor });
  };
  return [
    { context: 'timeline', keys: ['h', 'left', 'l', 'right'], show: 'h/l', bar: 'cursor', help: 'moves the cursor a column', run: ({ key }) => {
        const { cur, dt } = now();
        cursorTo(cur.cursor + (key === 'l' || key === 'right' ? dt : -dt));
      },
    },
    {
      context: 'timeline',
      keys: ['H', 'pgup', 'L', 'pgdn'],
      show: 'H/L',
      bar: 'scroll',
      help: 'scrolls half a window (pgup/pgdn too)',
      run: ({ key }) => {
        const { cur } = now();
        const d = (key === 'L' || key === 'pgdn' ? 1 : -1) * (cur.span / 2);
        const tl = timeline();
        setW({ span: cur.span, from: cur.from + d, cursor: Math.max(tl.start, Math.min(tl.end, cur.cursor + d)) });
      },
    },
    { context: 'timeline', keys: ['+', '=', '-'], show: '+/-', bar: 'zoom', help: 'zooms in or out around the cursor', run: ({ key }) => zoom(key === '-' ? 2 : 0.5) },
    { context: 'timeline', keys: ['0'], bar: 'whole run', help: 'shows the whole run', run: () => setW({ span: null, from: null, cursor: now().cur.cursor }) },
    {
      context: 'timeline',
      keys: ['n', 'N'],
      show: 'n/N',
      bar: 'next/prev mark',
      help: 'moves the cursor to the next or previous step or finding',
      run: ({ key }) => {
        const { cur } = now();
        const t = key === 'n' ? marks().find((m) => m > cur.cursor + 1e-6) : [...marks()].reverse().find((m) => m < cur.cursor - 1e-6);
        if (t !== undefined) cursorTo(t);
      },
    },
    { context: 'timeline', keys: ['!'], bar: 'finding', help: 'moves the cursor to the first finding', run: () => cursorTo(focusTime(timeline())) },
    { context: 'timeline', keys: ['t', 'esc'], bar: 'panels', help: 'back to the panels', run: back },
  ];
}

export function Live() {
  const state = useLabState();
  const view = useAppView();
  const controller = useController();
  const { go } = useNav();
  const { columns, rows } = useTerminalSize();
  const { focus, focusPanel, next, previous } = usePanelFocus();
  const [sel, setSel] = useState({ pages: 0, actors: 0, events: 0 });
  const [kind, setKind] = useState<LogKind | null>(null);
  const [filter, setFilter] = useState('');
  const [hideAgent, setHideAgent] = useState(true);
  const [showProbes, setShowProbes] = useState(false);
  const editor = useEditor();
  const editing = editor.editing;
  const [shown, shownRef, setShown] = useRefState<'panels' | 'timeline'>('panels');
  const [win, winRef, setWin] = useRefState<Window>({ span: null, from: null, cursor: null });

  const run = view.run;
  const paused = view.replay ? view.replay.paused : run?.status === 'paused';
  const replay = view.replay;

  const move = (d: 1 | -1) => {
    const max = focus === 'pages' ? pageRows(state).length - 1 : focus === 'actors' ? actorRows(state).length - 1 : 10_000;
    // The event log scrolls up from the newest: "down" goes towards newer lines.
    const delta = focus === 'events' ? -d : d;
    setSel((s) => ({ ...s, [focus]: Math.max(0, Math.min(max, s[focus] + delta)) }));
  };
  // The scenario's own keys first: they are what this run allows.
  const bindings: Binding[] = [
    ...interventionBindings('live', run, (id) => controller.intervene(id)),
    { context: 'live', keys: ['p'], bar: paused ? 'resume' : 'pause', help: 'pauses or resumes (live: between steps; replay: the feed)', run: () => controller.setPaused(!paused) },
    { context: 'live', keys: ['s'], bar: paused ? 'step' : undefined, help: 'steps while paused (live: one step; replay: one batch)', run: () => controller.step() },
    {
      context: 'live',
      keys: ['+', '-'],
      show: '+/-',
      bar: 'speed',
      help: 'replay speed',
      when: !!replay && !!controller.setSpeed,
      run: ({ key }) => replay && controller.setSpeed?.(key === '+' ? replay.speed * 2 : Math.max(0.25, replay.speed / 2)),
    },
    { context: 'live', keys: ['r'], bar: 'report', help: 'the report', run: () => go('report') },
    { context: 'live', keys: ['tab'], bar: 'focus', help: 'focuses the next panel', run: next },
    { context: 'live', keys: ['shift-tab'], help: 'focuses the panel before', run: previous },
    {
      context: 'live',
      keys: ['f'],
      bar: 'kind',
      help: 'the event kind shown',
      run: () => {
        const kinds = [null, ...logKinds(state).filter((k) => k.count > 0).map((k) => k.kind)];
        setKind((k) => kinds[(kinds.indexOf(k) + 1) % kinds.length] ?? null);
        setSel((s) => ({ ...s, events: 0 }));
      },
    },
    {
      context: 'live',
      keys: ['/'],
      bar: 'filter',
      help: 'filters the events',
      // "/" and what follows it may come in one read (typed fast, pasted).
      takesText: true,
      run: ({ rest }) => {
        focusPanel('events');
        editor.start();
        typeText(rest, setFilter, () => editor.stop());
      },
    },
    { context: 'live', keys: ['a'], bar: hideAgent ? 'agent evts' : 'hide agent', help: "shows or hides the agent's own events", run: () => setHideAgent((h) => !h) },
    { context: 'live', keys: ['o'], bar: showProbes ? 'events' : 'probes', help: "the lab's kprobes on this kernel (attached, not called, unavailable, and why) in place of the events", run: () => setShowProbes((v) => !v) },
    moveBinding('live', 'moves in the focused panel', move, { bar: 'move' }),
    ...textBindings('live.filter', setFilter, (how) => {
      if (how === 'cancel') setFilter('');
      editor.stop();
    }, { submit: 'apply', cancel: 'clear' }),
  ];
  // Built when the timeline is shown or one of its keys asks (not on every frame of the panels).
  const timeline = useMemo(() => lazy(() => runTimeline(state, run)), [state, run]);
  const cols = Math.max(10, columns - 17);
  const reportKey = bindings.find((b) => b.keys.includes('r'))!;
  const pauseKey = bindings.find((b) => b.keys.includes('p'))!;
  const timelineRows: Binding[] = [
    ...timelineBindings(timeline, winRef, setWin, cols, () => setShown('panels')),
    { ...pauseKey, context: 'timeline' },
    { ...reportKey, context: 'timeline' },
  ];
  bindings.splice(bindings.indexOf(reportKey) + 1, 0, { context: 'live', keys: ['t'], bar: 'timeline', help: 'the timeline: every lane over guest time', run: () => setShown('timeline') });
  const hints = useKeymap(() => (shownRef.current === 'timeline' ? 'timeline' : 'live'), [...bindings, ...timelineRows], () => (editor.ref.current ? 'filter' : null));

  // Height budget: strictly below the terminal's height (Ink clears and redraws the whole
  // screen, flickering, when a frame is as tall as the terminal).
  const height = Math.max(16, rows - 1);
  const filterLine = editing || filter ? 1 : 0;
  const nPages = Math.max(1, pageRows(state).length);
  const nExp = run?.expectations.length ?? 0;
  const fixed = 4 + filterLine; // header, run line, status, key bar
  const pagesRows = Math.min(nPages, 4);
  const pagesH = 2 + pagesRows + (nPages > pagesRows ? 1 : 0);
  const expH = 1 + Math.max(1, Math.min(4, nExp));
  const lockH = 1 + Math.max(1, Math.min(3, Math.max(Object.keys(state.locks).length, state.leases.length)));
  const rest = height - fixed - pagesH - expH - lockH;
  const actorsH = Math.max(3, Math.min(actorLinesNeeded(state) + (focus === 'actors' ? 3 : 0), rest - 4));
  const eventsH = Math.max(2, rest - actorsH);
  const half = Math.floor(columns / 2);
  const clip = fastPaths.clipRowsOnly ? ({ overflowY: 'hidden' } as const) : ({ overflow: 'hidden' } as const);

  if (shown === 'timeline')
    return (
      <Box flexDirection="column" width={columns} height={height} {...clip}>
        <Header state={state} view={view} screen="timeline" />
        <RunLine view={view} />
        <TimelinePanel timeline={timeline()} window={windowOf(timeline(), win)} width={columns} height={height - 4} />
        <StatusLine state={state} width={columns} />
        <KeyBar hints={hints} />
      </Box>
    );
  return (
    <Box flexDirection="column" width={columns} height={height} {...clip}>
      <Header state={state} view={view} screen="dashboard" />
      <RunLine view={view} />
      <Box height={pagesH} {...clip}>
        <Pages state={state} width={columns} maxRows={pagesRows} focused={focus === 'pages'} selected={sel.pages} />
      </Box>
      <Box height={actorsH} {...clip}>
        <ActorsPanel state={state} width={columns} maxRows={actorsH - 1} focused={focus === 'actors'} selected={sel.actors} />
      </Box>
      <Box height={lockH} {...clip}>
        <LocksPanel state={state} width={half} maxRows={lockH - 1} />
        <Text> </Text>
        <LeasesPanel state={state} width={columns - half - 1} maxRows={lockH - 1} />
      </Box>
      <Box height={expH} {...clip}>
        <Expectations expectations={run?.expectations ?? NO_EXPECTATIONS} width={columns} maxRows={expH - 1} />
      </Box>
      <Box height={eventsH} {...clip}>
        {showProbes ? (
          view.boot.probes?.length ? (
            <ProbesPanel probes={view.boot.probes} width={columns} maxRows={eventsH - 1} />
          ) : (
            <Text>
              <T tone="dim">  no probe status: {view.source === 'replay' ? 'a replay has none' : 'tracing was not set up'} (o: back to the events)</T>
            </Text>
          )
        ) : (
          <EventsPanel state={state} width={columns} maxRows={eventsH - 1} focused={focus === 'events'} kind={kind} text={filter} scroll={sel.events} hideAgent={hideAgent} />
        )}
      </Box>
      {filterLine ? <InputLine label="filter events: " value={filter} editing={editing} /> : null}
      <StatusLine state={state} width={columns} />
      <KeyBar hints={hints} />
    </Box>
  );
}
