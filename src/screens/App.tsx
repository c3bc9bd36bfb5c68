// Navigation between the screens, the keys every screen shares (? help, esc back, q quit),
// the help overlay, and a clean quit: the guest is shut down before the process exits.
import { Box, Text, useApp, useInput } from 'ink';
import React, { useCallback, useEffect, useRef, useState } from 'react';
import { Boot } from './Boot.js';
import { Guided } from './Guided.js';
import { ControllerContext, useAppView, useTerminalSize } from './hooks.js';
import { Live } from './Live.js';
import type { LabController } from './model.js';
import { Profiles } from './Profiles.js';
import { Report } from './Report.js';
import { Scenarios } from './Scenarios.js';
import { T, ThemeContext } from './theme.js';
import { UiContext } from './ui.js';

export type Route = 'profiles' | 'boot' | 'scenarios' | 'live' | 'guided' | 'report';

export const NavContext = React.createContext<{ go(route: Route): void; back(): void; route: Route }>({ go() {}, back() {}, route: 'profiles' });
export const useNav = () => React.useContext(NavContext);

const HELP: Record<Route, string[]> = {
  profiles: [
    'Profiles: the shipped ones (profiles/*.json) and your saved ones (conf).',
    'enter boots the selected profile · n new · c duplicate · e edit (a shipped one is copied) · d delete a saved one (asks first).',
    'In the form: up/down pick a field, enter edits it, space cycles a choice, s saves, esc leaves without saving.',
    'Nothing is saved unless the whole profile is valid; errors show next to their field with their path.',
  ],
  boot: [
    'Boot: each stage with its time; the accel decision and why; the tail of the guest console.',
    'When the guest is up the scenario list opens. A failed boot shows the cause and the console log path.',
  ],
  scenarios: [
    'Scenarios: pick one; enter runs it on the live dashboard, g runs it guided (step by step, with the story).',
    '/ filters by id, title, thread or summary.',
  ],
  live: [
    'Dashboard: everything comes from the guest agent through the pure reducer; t= is the guest clock.',
    'Pages: refcount, +idle (above the idle refcount: 1 for fsdax before v6.15, 0 after), pins (FOLL_PIN adds 1024), mapcount, DAX entry, sparkline.',
    'Actors: task state, how long blocked, top of the kernel stack, last action. Locks: rwsem state, owner, waiters.',
    'Leases: /proc/locks; a breaking lease counts down to fs.lease-break-time.',
    'tab focus · j/k move · f event kind · / filter events · a show/hide the agent\'s own events · p pause · s step · r report · scenario keys act on actors.',
    'The status line counts what was coalesced (≤15 frames/s), what the agent dropped and what the reducer evicted.',
  ],
  guided: [
    'Guided: each step runs, then the lab waits. The story says what happened in the kernel and where to look.',
    'It does not wait while a kernel timer runs (a breaking lease, an O_DIRECT in flight): the kernel would not wait with it.',
    'n next step · b/n browse the story of steps already run · r report. Changed rows are marked in the panels.',
  ],
  report: [
    'Report: verdicts and findings with evidence, the timeline, the transcript.',
    'x exports plain text wrapped at 72 columns (for a mailing-list reply) and Markdown next to the transcript.',
    'j/k scroll.',
  ],
};

function Help({ route, width }: { route: Route; width: number }) {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={Math.min(width, 100)}>
      <T tone="accent" bold>
        Help — {route}
      </T>
      {HELP[route].map((l, i) => (
        <Text key={i}>{l}</Text>
      ))}
      <Text> </Text>
      <Text>Everywhere: ? help · esc back · q quit (the guest is shut down cleanly) · arrows or j/k move.</Text>
      <T tone="dim">press any key to close</T>
    </Box>
  );
}

export function Screens({ initial, onQuit }: { initial: Route; onQuit: () => void }) {
  const view = useAppView();
  const { columns } = useTerminalSize();
  const [stack, setStack] = useState<Route[]>([initial]);
  const [help, setHelpState] = useState(false);
  // Refs as well as state: a key typed before the next render still sees the overlay.
  const helpRef = useRef(false);
  const setHelp = (on: boolean) => {
    helpRef.current = on;
    setHelpState(on);
  };
  const modal = useRef(new Set<string>());
  const route = stack[stack.length - 1]!;
  const go = useCallback((r: Route) => setStack((s) => (s[s.length - 1] === r ? s : [...s, r])), []);
  const back = useCallback(() => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)), []);
  const setModal = useCallback((key: string, on: boolean) => {
    if (on) modal.current.add(key);
    else modal.current.delete(key);
  }, []);

  // The guest is up: on to the scenario list.
  const status = view.boot.status;
  useEffect(() => {
    if (status === 'ready' && route === 'boot' && view.source === 'live') go('scenarios');
  }, [status]);

  useInput((input, key) => {
    if (key.ctrl && input === 'c') return onQuit();
    if (helpRef.current) return setHelp(false);
    if (modal.current.size) return;
    if (input === '?') setHelp(true);
    else if (input === 'q') onQuit();
    else if (key.escape) back();
  });

  const screen: Record<Route, React.ReactNode> = {
    profiles: <Profiles />,
    boot: <Boot />,
    scenarios: <Scenarios />,
    live: <Live />,
    guided: <Guided />,
    report: <Report />,
  };
  return (
    <NavContext.Provider value={{ go, back, route }}>
      <UiContext.Provider value={{ active: !help, setModal }}>
        {help && <Help route={route} width={columns} />}
        <Box display={help ? 'none' : 'flex'} flexDirection="column">
          {screen[route]}
        </Box>
      </UiContext.Provider>
    </NavContext.Provider>
  );
}

export function App({ controller, initial, color, onExit }: { controller: LabController; initial: Route; color: boolean; onExit?: () => void }) {
  const { exit } = useApp();
  const [quitting, setQuitting] = useState(false);
  const quit = useCallback(() => {
    if (quitting) return;
    setQuitting(true);
    // The guest goes down cleanly; a shutdown that hangs still ends (QEMU is killed on exit).
    const limit = new Promise((r) => setTimeout(r, 30_000).unref());
    void Promise.race([controller.shutdown(), limit]).finally(() => {
      onExit?.();
      exit();
    });
  }, [quitting, controller]);
  return (
    <ThemeContext.Provider value={{ color }}>
      <ControllerContext.Provider value={controller}>
        {quitting ? (
          <Text>
            <T tone="warn">Stopping</T>
            {controller.getView().source === 'live' ? ': shutting the guest down…' : '…'}
          </Text>
        ) : (
          <Screens initial={initial} onQuit={quit} />
        )}
      </ControllerContext.Provider>
    </ThemeContext.Provider>
  );
}
