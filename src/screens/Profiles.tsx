// Profiles: shipped and saved ones, with their errors; create, duplicate, edit in a form,
// delete with confirmation; enter boots. Saving validates the whole profile first, so a
// bad edit never replaces what the user had saved.
import { Box, Text } from 'ink';
import React, { useEffect, useMemo, useState } from 'react';
import { ProfileError, type ProfileEntry } from '../config/profiles.js';
import { useNav } from './App.js';
import { useAppView, useController, useTerminalSize } from './hooks.js';
import { KeyBar, type KeyHint } from './panels/KeyBar.js';
import { Panel } from './panels/Panel.js';
import { TitleBar } from './panels/TitleBar.js';
import { errorsByField, FIELDS, formFromProfile, profileFromForm, type Form } from './profileForm.js';
import { T } from './theme.js';
import { useEditor, useKeys, useRefState, useTextEdit, useUi } from './ui.js';
import { clip, pad } from './view.js';

type Editing = { form: Form; base: Record<string, unknown>; replacing?: string; title: string };

function summary(e: ProfileEntry): string {
  if ('error' in e) return '';
  const p = e.profile;
  const kernel = p.kernel.source === 'debian' ? p.kernel.package : p.kernel.bzImage;
  return `${p.fs.type} -o ${p.fs.mountOptions.join(',')} · ${p.nvdimms.map((n) => `${n.size} ${n.mode}`).join(' + ')} · ${p.memory} ${p.cpus} cpus · ${p.accel} · ${kernel} · ${p.sampling.hz} Hz`;
}

export function Profiles() {
  const controller = useController();
  const view = useAppView();
  const { go } = useNav();
  const { active } = useUi();
  const { columns, rows } = useTerminalSize();
  const [version, setVersion] = useState(0);
  const entries = useMemo(() => controller.listProfiles(), [controller, version]);
  const [sel, setSel] = useState(() => Math.max(0, entries.findIndex((e) => e.name === 'default')));
  const [editing, setEditing] = useState<Editing | null>(null);
  const [field, fieldRef, setField] = useRefState(0);
  const typer = useEditor('profile-field');
  const typing = typer.editing;
  const [confirm, setConfirm] = useState<string | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  // The form and the delete question take every key (esc included), from the next key on.
  const { setModal } = useUi();
  useEffect(() => () => setModal('profile-form', false), []);
  const modalNow = (on: boolean) => queueMicrotask(() => setModal('profile-form', on));
  const current = entries[Math.min(sel, entries.length - 1)];

  const open = (e: Editing) => {
    modalNow(true);
    setEditing(e);
    setField(0);
    setProblems([]);
    setMessage(null);
  };
  const rawOf = (e: ProfileEntry): Record<string, unknown> =>
    'error' in e ? ((controller.savedProfileData(e.name) as Record<string, unknown>) ?? { name: e.name }) : (e.profile as unknown as Record<string, unknown>);

  const fkeyNow = () => FIELDS[fieldRef.current]!.key;
  useTextEdit(
    active,
    typer.ref,
    (f) => setEditing((e) => (e ? { ...e, form: { ...e.form, [fkeyNow()]: f(e.form[fkeyNow()]) } } : e)),
    () => typer.stop(),
  );

  const save = () => {
    if (!editing) return;
    try {
      controller.saveProfile(profileFromForm(editing.form, editing.base), editing.replacing);
      const name = editing.form.name.trim();
      modalNow(false);
      setEditing(null);
      setMessage(`saved ${name}`);
      setVersion((v) => v + 1);
      const list = controller.listProfiles();
      setSel(Math.max(0, list.findIndex((e) => e.origin === 'saved' && e.name === name)));
    } catch (err) {
      setProblems(err instanceof ProfileError ? err.problems : [(err as Error).message]);
    }
  };

  useKeys(
    (input, key) => {
      if (typer.ref.current) return;
      if (confirm !== null) {
        if (input === 'y') {
          controller.deleteProfile(confirm);
          setMessage(`deleted ${confirm}`);
          setVersion((v) => v + 1);
          setSel((s) => Math.max(0, s - 1));
        } else setMessage('kept');
        modalNow(false);
        setConfirm(null);
        return;
      }
      if (editing) {
        const f = FIELDS[fieldRef.current]!;
        if (key.escape) {
          modalNow(false);
          setEditing(null);
          setMessage('left the form: nothing saved');
        } else if (key.downArrow || input === 'j' || key.tab) setField((i) => Math.min(FIELDS.length - 1, i + 1));
        else if (key.upArrow || input === 'k') setField((i) => Math.max(0, i - 1));
        else if (f.choices && (input === ' ' || key.return)) {
          const choices = f.choices;
          const cycle = (v: string) => choices[(choices.indexOf(v) + 1) % choices.length]!;
          setEditing((e) => (e ? { ...e, form: { ...e.form, [f.key]: cycle(e.form[f.key]) } } : e));
        } else if (key.return) typer.start();
        else if (input === 's') save();
        return;
      }
      if (key.downArrow || input === 'j') setSel((s) => Math.min(entries.length - 1, s + 1));
      else if (key.upArrow || input === 'k') setSel((s) => Math.max(0, s - 1));
      else if (key.return && current) {
        if ('error' in current) return setMessage(`${current.name} is not valid: fix it first (e)`);
        if (view.boot.status === 'ready' && view.boot.profile === current.name) return go('scenarios');
        controller.boot(current.name);
        go('boot');
      } else if (input === 'n') {
        const base = entries.find((e) => e.name === 'default' && !('error' in e));
        const raw = base ? rawOf(base) : {};
        open({ form: { ...formFromProfile(raw), name: 'my-profile', description: '' }, base: { ...raw, scenarios: [] }, title: 'New profile' });
      } else if (input === 'c' && current) {
        const raw = rawOf(current);
        open({ form: { ...formFromProfile(raw), name: `${current.name}-copy` }, base: raw, title: `Duplicate of ${current.name}` });
      } else if (input === 'e' && current) {
        const raw = rawOf(current);
        if (current.origin === 'shipped') open({ form: { ...formFromProfile(raw), name: `${current.name}-custom` }, base: raw, title: `Edit a copy of shipped ${current.name}` });
        else open({ form: formFromProfile(raw), base: raw, replacing: current.name, title: `Edit ${current.name}` });
      } else if (input === 'd' && current) {
        if (current.origin === 'shipped') setMessage(`${current.name} is shipped with daxlab: only saved profiles can be deleted`);
        else {
          modalNow(true);
          setConfirm(current.name);
        }
      }
    },
    { isActive: active },
  );

  const header = (
    <TitleBar screen="profiles">
      {view.boot.status !== 'idle' ? (
        <T tone="dim">
          guest {view.boot.status} ({view.boot.profile})
        </T>
      ) : null}
    </TitleBar>
  );

  if (editing) {
    const { byField, general } = errorsByField(problems);
    const labelW = 18;
    return (
      <Box flexDirection="column" width={columns}>
        {header}
        <Panel title={editing.title} extra={problems.length ? `${problems.length} problem(s): not saved` : 's saves'} width={columns}>
          {FIELDS.map((f, i) => {
            const on = i === field;
            const errs = byField[f.key] ?? [];
            return (
              <Box key={f.key} flexDirection="column">
                <Text wrap="truncate" inverse={on && !typing}>
                  {on ? '› ' : '  '}
                  <T bold={on}>{pad(f.label, labelW)}</T>
                  {editing.form[f.key] || <T tone="dim">(empty)</T>}
                  {on && typing ? <Text inverse> </Text> : ''}
                  {f.choices ? <T tone="dim"> ({f.choices.join('/')})</T> : ''}
                </Text>
                {on && !errs.length && (
                  <Text wrap="truncate">
                    {'    '}
                    <T tone="dim">{clip(f.hint, columns - 4)}</T>
                  </Text>
                )}
                {errs.map((e, j) => (
                  <Text key={j} wrap="truncate">
                    {'    '}
                    <T tone="bad">✗ {e}</T>
                  </Text>
                ))}
              </Box>
            );
          })}
          {general.map((e, j) => (
            <Text key={j} wrap="truncate">
              <T tone="bad">✗ {e}</T>
            </Text>
          ))}
        </Panel>
        <KeyBar
          keys={typing ? [['enter', 'done'], ['esc', 'done']] : [['j/k', 'field'], ['enter', 'edit'], ['space', 'cycle'], ['s', 'save'], ['esc', 'leave, no save']]}
          globals={false}
        />
      </Box>
    );
  }

  const lines: React.ReactNode[] = [];
  entries.forEach((e, i) => {
    const on = i === sel;
    const broken = 'error' in e;
    lines.push(
      <Text key={`${e.origin}:${e.name}`} wrap="truncate" inverse={on}>
        {on ? '› ' : '  '}
        <T tone={broken ? 'bad' : 'accent'} bold>
          {pad(e.name, 16)}
        </T>
        <T tone="dim">{pad(e.origin, 8)}</T>
        {broken ? <T tone="bad">not valid ({e.error.problems.length} problems)</T> : clip(summary(e), columns - 28)}
      </Text>,
    );
    if (broken) for (const p of e.error.problems) lines.push(<Text key={`${e.name}:${p}`} wrap="truncate">{'      '}<T tone="bad">✗ {p}</T></Text>);
    else if (on && e.profile.description) lines.push(<Text key={`${e.name}:d`} wrap="truncate">{'      '}<T tone="dim">{e.profile.description}</T></Text>);
  });
  const keys: KeyHint[] = [
    ['enter', 'boot'],
    ['n', 'new'],
    ['c', 'duplicate'],
    ['e', 'edit'],
    ['d', 'delete'],
  ];
  return (
    <Box flexDirection="column" width={columns}>
      {header}
      <Panel title="Profiles" extra={`${entries.filter((e) => e.origin === 'shipped').length} shipped, ${entries.filter((e) => e.origin === 'saved').length} saved`} width={columns}>
        {lines.slice(0, Math.max(3, rows - 6))}
      </Panel>
      {confirm !== null && (
        <T tone="warn" bold>
          Delete saved profile {confirm}? y deletes, any other key keeps it.
        </T>
      )}
      {message && <T tone="dim">{message}</T>}
      {current && !('error' in current) && (
        <T tone="dim">{current.origin === 'saved' ? `saved in ${current.location}` : `shipped: ${current.location}`}</T>
      )}
      <KeyBar keys={confirm ? [['y', 'delete'], ['any', 'keep']] : keys} globals={!confirm} />
    </Box>
  );
}
