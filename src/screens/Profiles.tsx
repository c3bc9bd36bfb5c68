// Profiles: shipped and saved ones, with their errors; create, duplicate, edit in a form,
// delete with confirmation; enter boots. Saving validates the whole profile first, so a
// bad edit never replaces what the user had saved.
import { Box, Text } from 'ink';
import React, { useEffect, useMemo, useRef, useState } from 'react';
import { ProfileError, type ProfileEntry } from '../config/profiles.js';
import { useCompare, useNav } from './App.js';
import type { SideSpec } from './compare.js';
import { useAppView, useController, useTerminalSize } from './hooks.js';
import { moveBinding, textBindings, type Binding } from './keys.js';
import { KeyBar, useKeymap } from './keymap.js';
import { Panel } from './panels/Panel.js';
import { TitleBar } from './panels/TitleBar.js';
import { errorsByField, FIELDS, formFromProfile, profileFromForm, type Form } from './profileForm.js';
import { kernelEra, kernelSource, type KernelSpec } from './profileKernel.js';
import { T } from './theme.js';
import { InputLine, useEditor, useRefState } from './ui.js';
import { clip, pad } from './view.js';

type Editing = { form: Form; base: Record<string, unknown>; replacing?: string; title: string };

function summary(e: ProfileEntry): string {
  if ('error' in e) return '';
  const p = e.profile;
  return `${p.fs.type} -o ${p.fs.mountOptions.join(',')} · ${p.nvdimms.map((n) => `${n.size} ${n.mode}`).join(' + ')} · ${p.memory} ${p.cpus} cpus · ${p.accel} · ${p.sampling.hz} Hz`;
}

export function Profiles() {
  const controller = useController();
  const view = useAppView();
  const { go } = useNav();
  const { columns, rows } = useTerminalSize();
  const [version, setVersion] = useState(0);
  const entries = useMemo(() => controller.listProfiles(), [controller, version]);
  const [sel, setSel] = useState(() => Math.max(0, entries.findIndex((e) => e.name === 'default')));
  const [editing, editingRef, setEditing] = useRefState<Editing | null>(null);
  const [field, fieldRef, setField] = useRefState(0);
  const typer = useEditor();
  const typing = typer.editing;
  const [confirm, confirmRef, setConfirm] = useRefState<string | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const current = entries[Math.min(sel, entries.length - 1)];
  // A compare being picked: A marked, B to pick (a profile, or a saved run typed in).
  const { pending, setPending, start } = useCompare();
  // Read when a key arrives (a key typed before the next render sees the compare mode).
  const pendingRef = useRef(pending);
  pendingRef.current = pending;
  const markPending = (p: typeof pending) => {
    pendingRef.current = p;
    setPending(p);
  };
  const [runPath, runPathRef, setRunPath] = useRefState('');
  const pathEditor = useEditor();
  // Back from the scenario list of a compare: B is picked again.
  useEffect(() => {
    if (pending?.b) setPending({ a: pending.a });
  }, []);
  const sideName = (s: SideSpec) => (s.kind === 'profile' ? s.profile : s.file);
  const pickB = (b: SideSpec) => {
    const p = pendingRef.current;
    if (!p) return;
    if (b.kind === 'profile' && p.a.kind === 'profile' && b.profile === p.a.profile) return setMessage(`B is A (${b.profile}): pick another profile, or o for a saved run`);
    setMessage(null);
    // A saved run names the scenario; two profiles still need one.
    if (b.kind === 'run' || p.a.kind === 'run') return start({ sides: [p.a, b] });
    markPending({ a: p.a, b });
    go('scenarios');
  };
  const pickProfile = () => {
    if (!current) return;
    if ('error' in current) return setMessage(`${current.name} is not valid: fix it first (e)`);
    pickB({ kind: 'profile', profile: current.name });
  };

  const open = (e: Editing) => {
    setEditing(e);
    setField(0);
    setProblems([]);
    setMessage(null);
  };
  const rawOf = (e: ProfileEntry): Record<string, unknown> =>
    'error' in e ? ((controller.savedProfileData(e.name) as Record<string, unknown>) ?? { name: e.name }) : (e.profile as unknown as Record<string, unknown>);

  const fkeyNow = () => FIELDS[fieldRef.current]!.key;
  const save = () => {
    if (!editing) return;
    try {
      controller.saveProfile(profileFromForm(editing.form, editing.base), editing.replacing);
      const name = editing.form.name.trim();
      setEditing(null);
      setMessage(`saved ${name}`);
      setVersion((v) => v + 1);
      const list = controller.listProfiles();
      setSel(Math.max(0, list.findIndex((e) => e.origin === 'saved' && e.name === name)));
    } catch (err) {
      setProblems(err instanceof ProfileError ? err.problems : [(err as Error).message]);
    }
  };

  const boot = () => {
    if (!current) return;
    if ('error' in current) return setMessage(`${current.name} is not valid: fix it first (e)`);
    if (view.boot.status === 'ready' && view.boot.profile === current.name) return go('scenarios');
    controller.boot(current.name);
    go('boot');
  };
  const cycle = () => {
    const f = FIELDS[fieldRef.current]!;
    if (!f.choices) return false;
    const choices = f.choices;
    const next = (v: string) => choices[(choices.indexOf(v) + 1) % choices.length]!;
    setEditing((e) => (e ? { ...e, form: { ...e.form, [f.key]: next(e.form[f.key]) } } : e));
    return true;
  };
  const bindings: Binding[] = [
    moveBinding('profiles', 'move', (d) => setSel((s) => Math.max(0, Math.min(entries.length - 1, s + d)))),
    { context: 'profiles', keys: ['enter'], bar: 'boot', help: 'boots the selected profile', run: boot },
    {
      context: 'profiles',
      keys: ['n'],
      bar: 'new',
      help: 'a new profile (from default)',
      run: () => {
        const base = entries.find((e) => e.name === 'default' && !('error' in e));
        const raw = base ? rawOf(base) : {};
        open({ form: { ...formFromProfile(raw), name: 'my-profile', description: '' }, base: { ...raw, scenarios: [] }, title: 'New profile' });
      },
    },
    {
      context: 'profiles',
      keys: ['c'],
      bar: 'duplicate',
      help: 'duplicate',
      run: () => {
        if (!current) return;
        const raw = rawOf(current);
        open({ form: { ...formFromProfile(raw), name: `${current.name}-copy` }, base: raw, title: `Duplicate of ${current.name}` });
      },
    },
    {
      context: 'profiles',
      keys: ['e'],
      bar: 'edit',
      help: 'edit (a shipped one is copied)',
      run: () => {
        if (!current) return;
        const raw = rawOf(current);
        if (current.origin === 'shipped') open({ form: { ...formFromProfile(raw), name: `${current.name}-custom` }, base: raw, title: `Edit a copy of shipped ${current.name}` });
        else open({ form: formFromProfile(raw), base: raw, replacing: current.name, title: `Edit ${current.name}` });
      },
    },
    {
      context: 'profiles',
      keys: ['d'],
      bar: 'delete',
      help: 'delete a saved one (asks first)',
      run: () => {
        if (!current) return;
        if (current.origin === 'shipped') setMessage(`${current.name} is shipped with daxlab: only saved profiles can be deleted`);
        else setConfirm(current.name);
      },
    },
    {
      context: 'profiles.confirm',
      keys: ['y'],
      bar: 'delete',
      help: 'deletes it',
      run: () => {
        const name = confirmRef.current!;
        controller.deleteProfile(name);
        setMessage(`deleted ${name}`);
        setVersion((v) => v + 1);
        setSel((s) => Math.max(0, s - 1));
        setConfirm(null);
      },
    },
    {
      context: 'profiles.confirm',
      keys: ['any'],
      bar: 'keep',
      help: 'keeps it',
      run: () => {
        setMessage('kept');
        setConfirm(null);
      },
    },
    {
      context: 'profiles',
      keys: ['C'],
      bar: 'compare',
      help: 'compare: marks this profile as side A; then pick side B (a profile, or a saved run) and the scenario',
      run: () => {
        if (!current) return;
        if ('error' in current) return setMessage(`${current.name} is not valid: fix it first (e)`);
        markPending({ a: { kind: 'profile', profile: current.name } });
        setMessage(null);
      },
    },
    moveBinding('profiles.compare', 'move', (d) => setSel((s) => Math.max(0, Math.min(entries.length - 1, s + d)))),
    { context: 'profiles.compare', keys: ['enter', 'C'], show: 'enter', bar: 'B = this profile', help: 'makes the selected profile side B', run: pickProfile },
    { context: 'profiles.compare', keys: ['o'], bar: 'B = a saved run', help: 'side B is a saved run: type its transcript (.jsonl) or report (.json)', run: () => pathEditor.start() },
    {
      context: 'profiles.compare',
      keys: ['esc'],
      bar: 'cancel',
      help: 'cancels the compare',
      run: () => {
        markPending(null);
        setMessage('compare cancelled');
      },
    },
    ...textBindings(
      'profiles.comparerun',
      setRunPath,
      (how) => {
        pathEditor.stop();
        if (how === 'submit' && runPathRef.current.trim()) pickB({ kind: 'run', file: runPathRef.current.trim() });
      },
      { submit: 'use it', cancel: 'back' },
    ),
    moveBinding('profiles.form', 'field', (d) => setField((i) => Math.max(0, Math.min(FIELDS.length - 1, i + d))), { bar: 'field', down: ['tab'], up: ['shift-tab'] }),
    { context: 'profiles.form', keys: ['enter'], bar: 'edit', help: 'edits the field (cycles a choice)', run: () => cycle() || typer.start() },
    { context: 'profiles.form', keys: ['space'], bar: 'cycle', help: 'cycles a choice', run: () => void cycle() },
    { context: 'profiles.form', keys: ['s'], bar: 'save', help: 'saves (only a valid profile)', run: save },
    {
      context: 'profiles.form',
      keys: ['esc'],
      bar: 'leave, no save',
      help: 'leaves without saving',
      run: () => {
        setEditing(null);
        setMessage('left the form: nothing saved');
      },
    },
    ...textBindings(
      'profiles.field',
      (f) => setEditing((e) => (e ? { ...e, form: { ...e.form, [fkeyNow()]: f(e.form[fkeyNow()]) } } : e)),
      () => typer.stop(),
      { submit: 'done', cancel: 'done' },
    ),
  ];
  // The form, a field being typed and the delete question take every key (esc included).
  const hints = useKeymap('profiles', bindings, () =>
    typer.ref.current
      ? 'field'
      : confirmRef.current !== null
        ? 'confirm'
        : editingRef.current
          ? 'form'
          : pathEditor.ref.current
            ? 'comparerun'
            : pendingRef.current && !pendingRef.current.b
              ? 'compare'
              : null,
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
        <KeyBar hints={hints} />
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
    else {
      // Every profile's kernel and era: what the user picks a profile by.
      const k = e.profile.kernel as KernelSpec;
      const booted = view.boot.profile === e.name && view.boot.status === 'ready' ? view.boot.kernel : undefined;
      lines.push(
        <Text key={`${e.name}:k`} wrap="truncate">
          {'      '}
          <T tone="dim">kernel </T>
          {clip(kernelSource(k), columns - 40)}
          <T tone="dim"> · era </T>
          {kernelEra(k, booted)}
        </Text>,
      );
      if (on && e.profile.description) lines.push(<Text key={`${e.name}:d`} wrap="truncate">{'      '}<T tone="dim">{e.profile.description}</T></Text>);
    }
  });
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
      {pending && !pending.b ? (
        <T tone="accent" bold>
          compare: A is {sideName(pending.a)}; pick B: enter on a profile, o for a saved run (a transcript or report), esc cancels
        </T>
      ) : null}
      {pathEditor.editing || (pending && !pending.b && runPath) ? <InputLine label="saved run (B): " value={runPath} editing={pathEditor.editing} /> : null}
      {message && <T tone="dim">{message}</T>}
      {current && !('error' in current) && (
        <T tone="dim">{current.origin === 'saved' ? `saved in ${current.location}` : `shipped: ${current.location}`}</T>
      )}
      <KeyBar hints={hints} />
    </Box>
  );
}
