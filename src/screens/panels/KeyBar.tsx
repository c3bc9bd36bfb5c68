// The key bar at the bottom of every screen.
import { Text } from 'ink';
import { T } from '../theme.js';

export type KeyHint = [key: string, label: string];

export const GLOBAL_KEYS: KeyHint[] = [
  ['?', 'help'],
  ['esc', 'back'],
  ['q', 'quit'],
];

export function KeyBar({ keys, globals = true }: { keys: readonly KeyHint[]; globals?: boolean }) {
  const all = globals ? [...keys, ...GLOBAL_KEYS] : keys;
  return (
    <Text wrap="truncate">
      {all.map(([k, label], i) => (
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
