// Navigation between the screens, the keys every screen shares (? help, esc back, q quit),
// the help overlay, and a clean quit: the guest is shut down before the process exits.
import { Box, Text, useApp } from 'ink';
import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Boot } from './Boot.js';
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

export type Route = 'profiles' | 'boot' | 'scenarios' | 'live' | 'guided' | 'report';

export const NavContext = React.createContext<{ go(route: Route): void; back(): void; route: Route }>({ go() {}, back() {}, route: 'profiles' });
export const useNav = () => React.useContext(NavContext);

export function Screens({ initial, onQuit, registry: given }: { initial: Route; onQuit: () => void; registry?: KeyRegistry | undefined }) {
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
  };
  return (
    <NavContext.Provider value={{ go, back, route }}>
      <KeymapContext.Provider value={registry}>
        {help && <HelpOverlay registry={registry} width={columns} />}
        <Box display={help ? 'none' : 'flex'} flexDirection="column">
          {screen[route]}
        </Box>
      </KeymapContext.Provider>
    </NavContext.Provider>
  );
}

export function App({ controller, initial, color, onExit, registry }: { controller: LabController; initial: Route; color: boolean; onExit?: () => void; registry?: KeyRegistry }) {
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
          <Screens initial={initial} onQuit={quit} registry={registry} />
        )}
      </ControllerContext.Provider>
    </ThemeContext.Provider>
  );
}
