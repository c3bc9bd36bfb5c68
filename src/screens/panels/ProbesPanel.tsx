// The lab's kprobes on this kernel: which attached (and, after a run, how often each fired),
// which exist but are not called here (measured: nothing calls them or takes their address)
// and which are unavailable, each with the agent's reason.
import { Text } from 'ink';
import type { ProbeView } from '../model.js';
import { T } from '../theme.js';
import { clip, pad } from '../view.js';
import { Panel } from './Panel.js';

/**
 * Each lab kprobe on this kernel: the attached ones on one line, then each one that is not
 * called here (measured) or unavailable, with why.
 */
export function ProbesPanel({ probes, width, maxRows }: { probes: ProbeView[]; width: number; maxRows?: number }) {
  const count = (st: string) => probes.filter((p) => p.status === st).length;
  const attached = probes.filter((p) => p.status === 'attached');
  const others = probes.filter((p) => p.status !== 'attached').slice(0, maxRows === undefined ? undefined : Math.max(0, maxRows - 1));
  const hits = attached.filter((p) => p.hits !== undefined);
  const nameW = Math.min(34, Math.max(0, ...others.map((p) => p.name.length)) + 1);
  return (
    <Panel
      title="Probes"
      extra={`${count('attached')} attached · ${count('not called')} not called · ${count('unavailable')} unavailable${hits.length ? ` · fired in the last run: ${hits.filter((p) => p.hits! > 0).length}` : ''}`}
      width={width}
    >
      {attached.length > 0 && (
        <Text wrap="truncate">
          {'  '}
          <T tone="ok">attached</T> <T tone="dim">{clip(attached.map((p) => (p.hits === undefined ? p.name : `${p.name} ×${p.hits}`)).join(', '), width - 14)}</T>
        </Text>
      )}
      {others.map((p) => (
        <Text key={p.name} wrap="truncate">
          {'  '}
          {pad(p.name, nameW)}
          <T tone={p.status === 'not called' ? 'warn' : 'dim'}>{pad(p.status, 12)}</T> <T tone="dim">{clip(p.why ?? '', width - nameW - 17)}</T>
        </Text>
      ))}
    </Panel>
  );
}
