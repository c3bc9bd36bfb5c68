// Screen-level plumbing: state that key handlers read through a ref, a text editor mode
// (a filter, a form field) and a one-line text input. Keys themselves are in keys.ts.
import { Text } from 'ink';
import { useCallback, useRef, useState } from 'react';
import { T } from './theme.js';

/**
 * State that key handlers read through a ref: Ink re-registers a handler after each render,
 * so a key typed before the next render would otherwise see the value before the last key.
 */
export function useRefState<T>(initial: T): [T, { readonly current: T }, (next: T | ((v: T) => T)) => void] {
  const [value, setValue] = useState(initial);
  const ref = useRef(initial);
  const set = useCallback((next: T | ((v: T) => T)) => {
    ref.current = typeof next === 'function' ? (next as (v: T) => T)(ref.current) : next;
    setValue(ref.current);
  }, []);
  return [value, ref, set];
}

/**
 * A text editor mode (a filter, a form field). Its flag is a ref as well as state: keys
 * typed faster than a frame still go to the editor. The key registry dispatches a press
 * to one row only, so the enter that starts an edit is not also its first keystroke.
 */
export function useEditor() {
  const [editing, ref, set] = useRefState(false);
  return { editing, ref, start: () => set(true), stop: () => set(false) };
}

export function InputLine({ label, value, editing }: { label: string; value: string; editing: boolean }) {
  return (
    <Text wrap="truncate">
      <T tone="accent">{label}</T>
      {value}
      {editing ? <Text inverse> </Text> : ''}
    </Text>
  );
}
