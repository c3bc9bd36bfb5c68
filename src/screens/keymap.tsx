// The key registry in React: a screen hands its rows of the table to useKeymap (and gets
// its key bar back); one dispatcher in the App reads the rows of the screen in front, its
// mode and the global rows, and runs the row a key press matches. The help overlay is
// generated from the same rows.
import { Box, Text, useFocusManager, useInput } from 'ink';
import { createContext, useContext, useEffect, useLayoutEffect, useRef } from 'react';
import { barHints, contextStack, helpLines, match, pressesOf, type Binding, type KeyHint } from './keys.js';
import { T } from './theme.js';

type Entry = { screen: () => string; bindings: readonly Binding[]; mode: () => string | null };

export class KeyRegistry {
  /** The rows every screen shares (help, back, quit). */
  globals: readonly Binding[] = [];
  private entry: { owner: object; value: Entry } | null = null;

  set(owner: object, value: Entry): void {
    this.entry = { owner, value };
  }
  clear(owner: object): void {
    if (this.entry?.owner === owner) this.entry = null;
  }
  get current(): Entry | null {
    return this.entry?.value ?? null;
  }
  /** Every row in force for the screen in front: its own, then the global ones. */
  rows(): readonly Binding[] {
    return [...(this.entry?.value.bindings ?? []), ...this.globals];
  }

  /** One key press: the row it matches in the context stack in force runs. */
  press(input: string, key: Parameters<typeof match>[3]): boolean {
    const e = this.current;
    const contexts = ['always', ...(e ? contextStack(e.screen(), e.mode()) : ['global'])];
    const hit = match(this.rows(), contexts, input, key);
    hit?.binding.run(hit.press);
    return !!hit;
  }
}

export const KeymapContext = createContext<KeyRegistry>(new KeyRegistry());

/**
 * A screen's rows of the key table. `mode` is read when a key arrives (through a ref: a
 * key typed faster than a render still lands in the mode the last key set).
 */
export function useKeymap(screen: string | (() => string), bindings: readonly Binding[], mode: () => string | null = () => null): KeyHint[] {
  const registry = useContext(KeymapContext);
  const owner = useRef({}).current;
  // Rows close over this render's state: the newest ones are the ones in force. A screen
  // with views of its own (the dashboard's timeline) names the one in front through a ref.
  const screenNow = typeof screen === 'function' ? screen : () => screen;
  registry.set(owner, { screen: screenNow, bindings, mode });
  useEffect(() => () => registry.clear(owner), [registry, owner]);
  return barHints([...bindings, ...registry.globals], contextStack(screenNow(), mode()));
}

/** The App's single reader of the keyboard. While the help is open any key closes it. */
export function useKeyDispatch(registry: KeyRegistry, help: { readonly current: boolean }, closeHelp: () => void): void {
  const { disableFocus } = useFocusManager();
  // Tab is a row of the table like any key, not Ink's own focus cycling.
  useLayoutEffect(() => disableFocus(), []);
  useInput((input, key) => {
    for (const p of pressesOf(input, key)) {
      if (help.current && !(p.key.ctrl && p.input === 'c')) {
        closeHelp();
        continue;
      }
      registry.press(p.input, p.key);
    }
  });
}

export function KeyBar({ hints }: { hints: readonly KeyHint[] }) {
  return (
    <Text wrap="truncate">
      {hints.map(([k, label], i) => (
        <Text key={`${k}${i}`}>
          <T tone="accent" inverse>
            {` ${k} `}
          </T>
          <Text> {label}  </Text>
        </Text>
      ))}
    </Text>
  );
}

export function HelpOverlay({ registry, width }: { registry: KeyRegistry; width: number }) {
  const screen = registry.current?.screen() ?? 'global';
  const lines = helpLines(registry.rows(), screen);
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={Math.min(width, 100)}>
      <T tone="accent" bold>
        Help — {screen}
      </T>
      {lines.map((l, i) => (
        <Text key={i}>{l}</Text>
      ))}
      <T tone="dim">press any key to close</T>
    </Box>
  );
}
