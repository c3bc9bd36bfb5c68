// Boot: each stage with a spinner while it runs and its time when done, the accel
// decision and its reason, the tail of the guest console; a failure with its cause and
// the console log path; a kernel the lab cannot read as "could not test"; each kprobe
// and whether it attached, is not called on this kernel (measured) or is unavailable.
import { Box, Text } from 'ink';
import Spinner from 'ink-spinner';
import { useNav } from './App.js';
import { useAppView, useController, useTerminalSize } from './hooks.js';
import type { Binding } from './keys.js';
import { KeyBar, useKeymap } from './keymap.js';
import { Panel } from './panels/Panel.js';
import { ProbesPanel } from './panels/ProbesPanel.js';
import { TitleBar } from './panels/TitleBar.js';
import { T } from './theme.js';
import { clip, fmtMs, pad } from './view.js';

const STAGE_LABEL: Record<string, string> = {
  host: 'host packages',
  image: 'kernel, agent, initramfs',
  qemu: 'QEMU',
  kernel: 'guest kernel to agent',
  setup: 'namespace, mkfs, mount',
  observer: 'observer',
};

export function Boot() {
  const view = useAppView();
  const controller = useController();
  const { go } = useNav();
  const { columns } = useTerminalSize();
  const b = view.boot;
  const bindings: Binding[] = [
    { context: 'boot', keys: ['enter'], bar: 'scenarios', help: 'the scenario list, once the guest is up', when: b.status === 'ready', run: () => go('scenarios') },
    {
      context: 'boot',
      keys: ['r'],
      bar: b.status === 'failed' ? 'retry' : undefined,
      help: 'boots again after a failure',
      when: b.status === 'failed' || b.status === 'stopped',
      run: () => controller.boot(b.profile),
    },
  ];
  const hints = useKeymap('boot', bindings);
  return (
    <Box flexDirection="column" width={columns}>
      <TitleBar screen="boot">
        <Text>profile {b.profile}</Text>
        <T tone={b.couldNotTest ? 'warn' : b.status === 'failed' ? 'bad' : b.status === 'ready' ? 'ok' : 'warn'} bold>
          {b.couldNotTest ? 'could not test' : b.status}
        </T>
      </TitleBar>
      <Panel title="Stages" width={columns}>
        {b.stages.length === 0 && <T tone="dim">  starting…</T>}
        {b.stages.map((s, i) => (
          <Text key={`${s.id}${i}`} wrap="truncate">
            {'  '}
            {s.state === 'running' ? (
              <T tone="accent">
                <Spinner type="dots" />
              </T>
            ) : s.state === 'done' ? (
              <T tone="ok">✓</T>
            ) : (
              <T tone="bad">✗</T>
            )}{' '}
            {pad(STAGE_LABEL[s.id] ?? s.id, 24)}
            <T tone="dim">{s.ms !== undefined ? fmtMs(s.ms).padStart(9) : '         '}</T> <T tone="dim">{clip(s.note ?? s.detail, columns - 40)}</T>
          </Text>
        ))}
      </Panel>
      <Text wrap="truncate">
        <T bold>accel </T>
        {b.accel ?? <T tone="dim">not decided yet</T>}
      </Text>
      {b.kernel && (
        <Text wrap="truncate">
          <T bold>guest </T>
          {b.kernel}
          {b.mount ? `, ${b.mount}` : ''}
        </Text>
      )}
      {b.status === 'failed' && b.couldNotTest && (
        <Box flexDirection="column">
          <T tone="warn" bold>
            Could not test this kernel: {b.couldNotTest}
          </T>
          <T tone="dim">Not a finding and not a bug of the lab: this kernel lacks what the lab needs to observe it.</T>
          {b.consoleLog && <Text>console log: {b.consoleLog}</Text>}
        </Box>
      )}
      {b.status === 'failed' && !b.couldNotTest && (
        <Box flexDirection="column">
          <T tone="bad" bold>
            Boot failed: {b.error}
          </T>
          {b.consoleLog && <Text>console log: {b.consoleLog}</Text>}
        </Box>
      )}
      {b.probes && b.probes.length > 0 && <ProbesPanel probes={b.probes} width={columns} />}
      <Panel title="Guest console" extra={b.consoleLog ? clip(b.consoleLog, columns - 30) : undefined} width={columns}>
        {b.console.length === 0 && <T tone="dim">  (nothing yet)</T>}
        {b.console.map((l, i) => (
          <Text key={i} wrap="truncate">
            <T tone="dim">  {l}</T>
          </Text>
        ))}
      </Panel>
      {b.status === 'ready' && <T tone="ok">The lab is up: enter picks a scenario.</T>}
      <KeyBar hints={hints} />
    </Box>
  );
}

const PROBE_TONE = { attached: 'ok', 'not called': 'warn', unavailable: 'dim' } as const;
