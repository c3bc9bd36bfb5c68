// Navigation between the screens, the keys every screen shares (? help, esc back, q quit),
// the help overlay, and a clean quit: the guest is shut down before the process exits.
import { Box, Text, useApp } from 'ink';
import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Boot } from './Boot.js';
import { Compare } from './Compare.js';
import { CompareController, type CompareSpec, type SideSpec } from './compare.js';
import { CompareReport } from './CompareReport.js';
import { Guided } from './Guided.js';
import { ControllerContext, useAppView, useTerminalSize } from './hooks.js';
import { Live } from './Live.js';
import type { LabController } from './model.js';
import { Profiles } from './Profiles.js';
import { Report } from './Report.js';
import { Scenarios } from './Scenarios.js';
import { T, ThemeContext } from './theme.js';
import type { Binding } from './keys.js';
import { HelpOverlay, KeymapContext, KeyRegistry, useKeyDispatch } from './keymap.js';

export type Route = 'profiles' | 'boot' | 'scenarios' | 'live' | 'guided' | 'report' | 'compare' | 'compareReport';

export const NavContext = React.createContext<{ go(route: Route): void; back(): void; route: Route }>({ go() {}, back() {}, route: 'profiles' });
export const useNav = () => React.useContext(NavContext);

/** A compare being set up: side A picked, B (and then the scenario) to pick. */
export type PendingCompare = { a: SideSpec; b?: SideSpec };

/** The compare in the TUI: the one on screen, the one being picked, and how to start one. */
export type CompareHub = {
  compare: CompareController | null;
  pending: PendingCompare | null;
  setPending(p: PendingCompare | null): void;
  /** Start a compare (the old one's guests are shut down) and show it. */
  start(spec: CompareSpec): void;
};
export const CompareContext = React.createContext<CompareHub>({ compare: null, pending: null, setPending() {}, start() {} });
export const useCompare = () => React.useContext(CompareContext);

/** How the TUI makes a compare: tests and replays without guests use the default (saved runs only). */
export type MakeCompare = (spec: CompareSpec) => CompareController;
const defaultMakeCompare: MakeCompare = (spec) => new CompareController(spec);

export function Screens({
  initial,
  onQuit,
  registry: given,
  compare,
  setCompare,
  makeCompare = defaultMakeCompare,
}: {
  initial: Route;
  onQuit: () => void;
  registry?: KeyRegistry | undefined;
  compare?: CompareController | null;
  setCompare?: (c: CompareController | null) => void;
  makeCompare?: MakeCompare | undefined;
}) {
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
  const route = stack[stack.length - 1]!;
  const go = useCallback((r: Route) => setStack((s) => (s[s.length - 1] === r ? s : [...s, r])), []);
  const back = useCallback(() => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)), []);
  // The guest is up: on to the scenario list.
  const status = view.boot.status;
  useEffect(() => {
    if (status === 'ready' && route === 'boot' && view.source === 'live') go('scenarios');
  }, [status]);

  const [pending, setPending] = useState<PendingCompare | null>(null);
  const hub: CompareHub = {
    compare: compare ?? null,
    pending,
    setPending,
    start: (spec) => {
      void compare?.shutdown();
      const c = makeCompare(spec);
      c.start();
      setCompare?.(c);
      setPending(null);
      go('compare');
    },
  };

  const registry = useMemo(() => given ?? new KeyRegistry(), [given]);
  const globals: Binding[] = [
    { context: 'always', keys: ['ctrl-c'], help: 'quits, even in a text field', run: onQuit },
    { context: 'global', keys: ['?'], bar: 'help', help: 'help', run: () => setHelp(true) },
    { context: 'global', keys: ['esc'], bar: 'back', help: 'back', run: back },
    { context: 'global', keys: ['q'], bar: 'quit', help: 'quit (the guest is shut down cleanly)', run: onQuit },
  ];
  registry.globals = globals;
  useKeyDispatch(registry, helpRef, () => setHelp(false));

  const screen: Record<Route, React.ReactNode> = {
    profiles: <Profiles />,
    boot: <Boot />,
    scenarios: <Scenarios />,
    live: <Live />,
    guided: <Guided />,
    report: <Report />,
    compare: <Compare />,
    compareReport: <CompareReport />,
  };
  return (
    <NavContext.Provider value={{ go, back, route }}>
      <CompareContext.Provider value={hub}>
        <KeymapContext.Provider value={registry}>
          {help && <HelpOverlay registry={registry} width={columns} />}
          <Box display={help ? 'none' : 'flex'} flexDirection="column">
            {screen[route]}
          </Box>
        </KeymapContext.Provider>
      </CompareContext.Provider>
    </NavContext.Provider>
  );
}

export function App({
  controller,
  initial,
  color,
  onExit,
  registry,
  compare: initialCompare,
  makeCompare,
}: {
  controller: LabController;
  initial: Route;
  color: boolean;
  onExit?: () => void;
  registry?: KeyRegistry;
  /** A compare to show from the start (daxlab compare --tui). */
  compare?: CompareController;
  makeCompare?: MakeCompare;
}) {
  const { exit } = useApp();
  const [quitting, setQuitting] = useState(false);
  const [compare, setCompare] = useState<CompareController | null>(initialCompare ?? null);
  const compareRef = useRef(compare);
  compareRef.current = compare;
  const quit = useCallback(() => {
    if (quitting) return;
    setQuitting(true);
    // The guests go down cleanly; a shutdown that hangs still ends (QEMU is killed on exit).
    const limit = new Promise((r) => setTimeout(r, 30_000).unref());
    const down = Promise.all([controller.shutdown(), compareRef.current?.shutdown()]);
    void Promise.race([down, limit]).finally(() => {
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
            {controller.getView().source === 'live' ? ': shutting the guest down…' : compare ? ': shutting the guests down…' : '…'}
          </Text>
        ) : (
          <Screens initial={initial} onQuit={quit} registry={registry} compare={compare} setCompare={setCompare} makeCompare={makeCompare} />
        )}
      </ControllerContext.Provider>
    </ThemeContext.Provider>
  );
}
