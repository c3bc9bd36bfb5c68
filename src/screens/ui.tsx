// Screen-level plumbing: whether a screen has the keyboard (not under the help overlay),
// modal text input (a filter or a form field takes every key, esc and q included), and a
// one-line text input.
import { Text, useInput, type Key } from 'ink';
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { T } from './theme.js';

export type Ui = { active: boolean; setModal(key: string, on: boolean): void };

export const UiContext = createContext<Ui>({ active: true, setModal() {} });

export const useUi = () => useContext(UiContext);


/**
 * useInput for command keys. A key held down (or pressed fast) can reach us as one read of
 * the same character repeated ("jjj"): each one is a key press of its own.
 */
export function useKeys(handler: (input: string, key: Key) => void, opts: { isActive: boolean }): void {
  useInput((input, key) => {
    if (input.length > 1 && !key.ctrl && !key.meta && /^[\x20-\x7e\r]$/.test(input[0]!) && [...input].every((c) => c === input[0])) {
      // Enter pressed twice fast arrives as "\r\r": two returns.
      for (const c of input) handler(c === '\r' ? '' : c, c === '\r' ? { ...key, return: true } : key);
    } else handler(input, key);
  }, opts);
}

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
 * A text editor mode (a filter, a form field). Its flag is a ref as well as state, and the
 * App is told without waiting for a render: keys typed faster than a frame still go to the
 * editor. A change takes effect after the key that caused it has reached every handler
 * (a microtask later), so the enter that starts an edit is not also its first keystroke,
 * and the esc that ends one does not also leave the screen.
 */
export function useEditor(name: string) {
  const { setModal } = useUi();
  const ref = useRef(false);
  const [editing, setEditing] = useState(false);
  const set = useCallback(
    (on: boolean) =>
      queueMicrotask(() => {
        ref.current = on;
        setModal(name, on);
        setEditing(on);
      }),
    [name, setModal],
  );
  useEffect(() => () => setModal(name, false), [name]);
  return { editing, ref, start: () => set(true), stop: () => set(false) };
}

/**
 * Edit a string: printable keys append, backspace deletes, enter submits, esc cancels.
 * Typed fast (or pasted), several keys come as one input: "abc\r" appends abc and submits.
 */
export function useTextEdit(
  active: boolean,
  editing: { readonly current: boolean },
  edit: (update: (v: string) => string) => void,
  onDone: (how: 'submit' | 'cancel') => void,
): void {
  useInput(
    (input, key) => {
      if (!editing.current) return;
      if (key.return) return onDone('submit');
      if (key.escape) return onDone('cancel');
      if (key.backspace || key.delete) return edit((v) => v.slice(0, -1));
      if (key.ctrl && input === 'u') return edit(() => '');
      if (!input || key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow) return;
      typeText(input, edit, onDone);
    },
    { isActive: active },
  );
}

/** Typed text into an edit: up to a return (which submits), control characters dropped. */
export function typeText(input: string, edit: (update: (v: string) => string) => void, onDone: (how: 'submit') => void): void {
  const end = input.search(/[\r\n]/);
  const text = (end >= 0 ? input.slice(0, end) : input).replace(/[\x00-\x1f\x7f]/g, '');
  if (text) edit((v) => v + text);
  if (end >= 0) onDone('submit');
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
