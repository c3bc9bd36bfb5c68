// The first line of every screen: "daxlab · <screen> · part · part ...".
import { Text } from 'ink';
import { Children, Fragment, type ReactNode } from 'react';
import { T } from '../theme.js';

export function TitleBar({ screen, children }: { screen: string; children?: ReactNode }) {
  const parts = Children.toArray(children);
  return (
    <Text wrap="truncate">
      <T tone="accent" bold>
        daxlab
      </T>
      <T tone="dim"> · </T>
      {screen}
      {parts.map((p, i) => (
        <Fragment key={i}>
          <T tone="dim"> · </T>
          {p}
        </Fragment>
      ))}
    </Text>
  );
}
