// Colours, and NO_COLOR (https://no-color.org): when it is set to anything non-empty no
// colour is added; bold, dim and inverse still mark what matters.
import { Text, type TextProps } from 'ink';
import { createContext, useContext } from 'react';

export const colorsEnabled = (env: NodeJS.ProcessEnv = process.env) => !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');

const palette = {
  accent: 'cyan',
  ok: 'green',
  bad: 'red',
  warn: 'yellow',
  hot: 'magenta',
  dim: 'gray',
} as const;

export type Tone = keyof typeof palette;

export const ThemeContext = createContext<{ color: boolean }>({ color: colorsEnabled() });

/** Text with a tone: a colour when colours are on, nothing added otherwise ("dim" stays faint). */
export function T({ tone, children, ...rest }: TextProps & { tone?: Tone | undefined }) {
  const { color } = useContext(ThemeContext);
  if (!tone) return <Text {...rest}>{children}</Text>;
  if (tone === 'dim') return <Text dimColor {...rest}>{children}</Text>;
  return (
    <Text color={color ? palette[tone] : undefined} bold={rest.bold ?? (!color && (tone === 'bad' || tone === 'hot'))} {...rest}>
      {children}
    </Text>
  );
}
