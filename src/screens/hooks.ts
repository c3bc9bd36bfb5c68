// Hooks shared by the screens: terminal size (resize handled), the store and the controller.
import { useStdout } from 'ink';
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import type { LabState } from '../lab/state.js';
import type { AppView, LabController } from './model.js';

export type Size = { columns: number; rows: number };

/** Tests and small terminals: the layout is designed for 100x30 and above. */
export function useTerminalSize(): Size {
  const { stdout } = useStdout();
  const read = (): Size => ({ columns: stdout.columns || 100, rows: stdout.rows || 30 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const on = () => setSize(read());
    stdout.on('resize', on);
    return () => {
      stdout.off('resize', on);
    };
  }, [stdout]);
  return size;
}

export const ControllerContext = createContext<LabController | null>(null);

export function useController(): LabController {
  const c = useContext(ControllerContext);
  if (!c) throw new Error('no LabController in context');
  return c;
}

export function useAppView(): AppView {
  const c = useController();
  return useSyncExternalStore(c.subscribe, c.getView);
}

export function useLabState(): LabState {
  const { store } = useController();
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
