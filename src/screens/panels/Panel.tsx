// A panel: a title rule ("── Pages ── 2 watched") and its lines; the focused one is marked.
import { Box, Text } from 'ink';
import React from 'react';
import type { LabState } from '../../lab/state.js';
import { T } from '../theme.js';

/** What a panel over the lab state takes: the state, its box, and the selection and highlights of the focused panel. */
export type StatePanelProps = {
  state: LabState;
  width: number;
  maxRows: number;
  focused?: boolean;
  selected?: number;
  highlight?: ReadonlySet<string>;
};

export function Panel({
  title,
  extra,
  focused,
  width,
  children,
}: {
  title: string;
  extra?: string | undefined;
  focused?: boolean | undefined;
  width: number;
  children?: React.ReactNode;
}) {
  const head = `${focused ? '▶' : '─'} ${title} `;
  const tail = extra ? ` ${extra} ` : '';
  const rule = '─'.repeat(Math.max(0, width - head.length - tail.length));
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <T tone={focused ? 'accent' : undefined} bold>
          {head}
        </T>
        <T tone="dim">{rule.slice(0, 2)}</T>
        <T tone="dim">{tail}</T>
        <T tone="dim">{rule.slice(2)}</T>
      </Text>
      {children}
    </Box>
  );
}

/** One line of a panel, never wrapped. */
export function Line({ children, inverse }: { children?: React.ReactNode; inverse?: boolean | undefined }) {
  return (
    <Text wrap="truncate" inverse={inverse}>
      {children}
    </Text>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return (
    <Text wrap="truncate">
      <T tone="dim">  {children}</T>
    </Text>
  );
}
