// The key registry, in the shape of lazygit's bindings: one table of key, context,
// handler and description. The same rows drive the dispatch of a key press, the key bar
// at the bottom of a screen and the help overlay, so a binding is written once.
//
// A context is a screen ("live"), a mode of it ("live.filter", "profiles.form") or
// "global". While a mode is on, only its rows apply (a text field takes q and esc); else
// the screen's rows, then the global ones. Pure: no React here (keymap.tsx has the hooks).
import type { Key } from 'ink';
import { interventionOf } from '../wire/ops.js';
import type { Intervention, RunView } from './model.js';

/**
 * A key as the table names it: a printable character ("j", "/", "K"), or one of
 * enter esc tab shift-tab up down left right pgup pgdn space backspace delete ctrl-X;
 * "text" is any typed text (a text field), "any" any key at all.
 */
export type KeyName = string;

export type KeyPress = { key: KeyName; input: string };

export type Binding = {
  /** "global", a screen ("live"), or a mode of one ("live.filter"). */
  context: string;
  keys: readonly KeyName[];
  /** How the key is written in the bar and the help; the first key by default. */
  show?: string;
  /** Its label in the key bar; none: listed in the help only. */
  bar?: string | undefined;
  /** What it does, for the help overlay. */
  help: string;
  /** Off: neither dispatched nor shown. */
  when?: boolean;
  /** The key also takes the text that follows it in the same read ("/" and a filter typed fast). */
  takesText?: boolean;
  run(press: KeyPress & { rest: string }): void;
};

/** What a context is called in the help, and what its screen shows (the help's first lines). */
export type ContextInfo = { title: string; about?: readonly string[] };

export const CONTEXTS: Record<string, ContextInfo> = {
  global: { title: 'Everywhere' },
  always: { title: 'Always' },
  profiles: {
    title: 'Profiles',
    about: [
      'Profiles: the shipped ones (profiles/*.json) and your saved ones (conf), with the kernel each names and its era.',
      'Nothing is saved unless the whole profile is valid; errors show next to their field with their path.',
    ],
  },
  'profiles.form': { title: 'In the form' },
  'profiles.field': { title: 'Editing a field' },
  'profiles.confirm': { title: 'Asked to delete' },
  boot: {
    title: 'Boot',
    about: [
      'Boot: each stage with its time; the accel decision and why; the tail of the guest console.',
      'When the guest is up the scenario list opens. A failed boot shows the cause and the console log path.',
    ],
  },
  scenarios: {
    title: 'Scenarios',
    about: ['Scenarios: pick one; it runs on the live dashboard, or guided (step by step, with the story).', 'The filter matches id, title, thread or summary.'],
  },
  'scenarios.filter': { title: 'Filtering' },
  live: {
    title: 'Dashboard',
    about: [
      'Dashboard: everything comes from the guest agent through the pure reducer; t= is the guest clock.',
      'Pages: refcount, +idle (above the idle refcount: 1 for fsdax before v6.15, 0 after), pins (FOLL_PIN adds 1024), mapcount, DAX entry, sparkline.',
      'Actors: task state, how long blocked, top of the kernel stack, last action. Locks: rwsem state, owner, waiters.',
      'Leases: /proc/locks; a breaking lease counts down to fs.lease-break-time. The scenario\'s keys act on its actors.',
      'The status line counts what was coalesced (≤15 frames/s), what the agent dropped and what the reducer evicted.',
    ],
  },
  'live.filter': { title: 'Filtering events' },
  timeline: {
    title: 'Timeline',
    about: [
      'Timeline: the run over guest time, one lane per actor, watched page and lock; the steps (their numbers) and the findings (!) marked.',
      'Actors: = in an action, # blocked in the kernel (the function is named), - running, . waiting for the lab, x exit. Pages: _ at idle, 1-9 references above idle, P pinned. Locks: w/r held, W held with waiters, . free.',
      'The cursor shows every lane at one instant on the lines below the lanes; it opens on the first finding.',
    ],
  },
  guided: {
    title: 'Guided',
    about: [
      'Guided: each step runs, then the lab waits. The story says what happened in the kernel and where to look.',
      'It does not wait while a kernel timer runs (a breaking lease, an O_DIRECT in flight): the kernel would not wait with it.',
      'Changed rows are marked in the panels.',
    ],
  },
  report: {
    title: 'Report',
    about: ['Report: verdicts and findings with evidence, the timeline, the transcript.'],
  },
  'profiles.compare': { title: 'Picking side B of a compare' },
  'profiles.comparerun': { title: 'Typing a saved run' },
  compare: {
    title: 'Compare',
    about: [
      'Compare: one scenario on two sides (two profiles live, one guest after the other unless the machine has room for both, or a saved run), step by step.',
      'Step N of A beside step N of B, whatever the time each took: the expectations of the steps so far, then every page, actor and lock as each side was at the end of that step.',
      '* marks a row that differs, ~ one that is not comparable (not observable on one kernel, or not reached yet). Pages are compared by references above idle and pins, not the raw refcount (the idle refcount is 1 before v6.15, 0 after); actors by blocked / waiting / exited, not by the function they sleep in.',
    ],
  },
  compareTimeline: {
    title: 'Compare timelines',
    about: [
      'Both timelines, lane by lane (A above B), with their steps lined up: step N starts in the same column on both, and each side\'s guest time runs linearly within a step.',
      'Actors: = in an action, # blocked in the kernel, - running, . waiting for the lab, x exit. Pages: _ at idle, 1-9 references above idle, P pinned. Locks: w/r held, W with waiters, . free.',
    ],
  },
  compareReport: {
    title: 'Compare table',
    about: ['The compare table, as daxlab compare prints it: each expectation on A and on B, the differences first; the tables cell by cell (* differs).'],
  },
};

/** Ink's view of a key press, in the table's names. */
export function keyName(input: string, key: Key): KeyName {
  if (key.return) return 'enter';
  if (key.escape) return 'esc';
  if (key.tab) return key.shift ? 'shift-tab' : 'tab';
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.pageUp) return 'pgup';
  if (key.pageDown) return 'pgdn';
  if (key.backspace) return 'backspace';
  if (key.delete) return 'delete';
  if (key.ctrl && input) return `ctrl-${input}`;
  if (input === ' ') return 'space';
  return input;
}

/**
 * One read from the terminal as key presses. Keys pressed fast (or held down: "jjj") can
 * reach us as one read: each character is a press of its own, and Enter pressed twice
 * fast ("\r\r") is two returns. A text field gets them one by one and types them all.
 */
export function pressesOf(input: string, key: Key): Array<{ input: string; key: Key }> {
  if (input.length > 1 && !key.ctrl && !key.meta && /^[\x20-\x7e\r]+$/.test(input))
    return [...input].map((c) => (c === '\r' ? { input: '', key: { ...key, return: true } } : { input: c, key }));
  return [{ input, key }];
}

const isText = (input: string, key: Key) => !!input && !key.ctrl && !key.meta && !key.tab && !key.upArrow && !key.downArrow && !key.escape && !key.return;

/** The row a press runs in this context stack (most specific first), and the text after a takesText key. */
export function match(bindings: readonly Binding[], contexts: readonly string[], input: string, key: Key): { binding: Binding; press: KeyPress & { rest: string } } | null {
  const name = keyName(input, key);
  for (const context of contexts) {
    for (const b of bindings) {
      if (b.context !== context || b.when === false) continue;
      if (b.keys.includes(name)) return { binding: b, press: { key: name, input, rest: '' } };
      if (b.takesText && input.length > 1 && b.keys.includes(input[0]!)) return { binding: b, press: { key: input[0]!, input, rest: input.slice(1) } };
      if (b.keys.includes('text') && isText(input, key)) return { binding: b, press: { key: 'text', input, rest: input } };
      if (b.keys.includes('any')) return { binding: b, press: { key: name, input, rest: '' } };
    }
  }
  return null;
}

/** The contexts a press is looked up in: a mode alone, or the screen then the global rows. */
export const contextStack = (screen: string, mode: string | null): string[] => (mode ? [`${screen}.${mode}`] : [screen, 'global']);

export type KeyHint = [key: string, label: string];

const shown = (b: Binding) => b.show ?? b.keys[0]!;

/** The key bar: the rows of the contexts in force that have a bar label, in table order. */
export function barHints(bindings: readonly Binding[], contexts: readonly string[]): KeyHint[] {
  return contexts.flatMap((c) => bindings.filter((b) => b.context === c && b.when !== false && b.bar).map((b): KeyHint => [shown(b), b.bar!]));
}

/** The help overlay's lines for a screen: what it shows, then its keys, its modes' keys and the global ones. */
export function helpLines(bindings: readonly Binding[], screen: string): string[] {
  const info = CONTEXTS[screen];
  const contexts = [screen, ...new Set(bindings.map((b) => b.context).filter((c) => c.startsWith(`${screen}.`))), 'global', 'always'];
  const out = [...(info?.about ?? [])];
  for (const c of contexts) {
    const rows = bindings.filter((b) => b.context === c && b.when !== false);
    if (!rows.length) continue;
    const title = c === screen ? 'Keys' : (CONTEXTS[c]?.title ?? c);
    out.push(`${title}: ${rows.map((b) => `${shown(b)} ${b.help}`).join(' · ')}.`);
  }
  return out;
}

/** Two rows of one context that claim the same key (the table must not have any). */
export function conflicts(bindings: readonly Binding[]): string[] {
  const seen = new Map<string, string>();
  const out: string[] = [];
  for (const b of bindings) {
    if (b.when === false) continue;
    for (const k of b.keys) {
      const id = `${b.context} ${k}`;
      if (seen.has(id)) out.push(`${id}: "${seen.get(id)}" and "${b.help}"`);
      else seen.set(id, b.help);
    }
  }
  return out;
}

/** The rows of a text field: typed text appends, backspace deletes, enter submits, esc cancels. */
export function textBindings(
  context: string,
  edit: (update: (v: string) => string) => void,
  done: (how: 'submit' | 'cancel') => void,
  labels: { submit: string; cancel: string },
): Binding[] {
  return [
    { context, keys: ['enter'], bar: labels.submit, help: labels.submit, run: () => done('submit') },
    { context, keys: ['esc'], bar: labels.cancel, help: labels.cancel, run: () => done('cancel') },
    { context, keys: ['backspace', 'delete'], help: 'deletes a character', run: () => edit((v) => v.slice(0, -1)) },
    { context, keys: ['ctrl-u'], help: 'clears', run: () => edit(() => '') },
    // Typed fast (or pasted), several keys come as one read: "abc\r" appends abc and submits.
    { context, keys: ['text'], show: 'text', help: 'is typed in', run: ({ input }) => typeText(input, edit, () => done('submit')) },
  ];
}

/** Typed text into an edit: up to a return (which submits), control characters dropped. */
export function typeText(input: string, edit: (update: (v: string) => string) => void, onDone: (how: 'submit') => void): void {
  const end = input.search(/[\r\n]/);
  const text = (end >= 0 ? input.slice(0, end) : input).replace(/[\x00-\x1f\x7f]/g, '');
  if (text) edit((v) => v + text);
  if (end >= 0) onDone('submit');
}

/** A move row: j/down and k/up (and any extra keys each way) as one binding. */
export function moveBinding(context: string, help: string, move: (delta: 1 | -1) => void, opts: { bar?: string; down?: KeyName[]; up?: KeyName[] } = {}): Binding {
  const down = ['j', 'down', ...(opts.down ?? [])];
  const up = ['k', 'up', ...(opts.up ?? [])];
  return { context, keys: [...down, ...up], show: 'j/k', bar: opts.bar, help, run: ({ key }) => move(down.includes(key) ? 1 : -1) };
}

/**
 * The keys a running scenario offers on its actors (kill the truncator, drain the pipe):
 * which ones the scenario offers, on which actor, from its info; each one's key from the
 * actor-op catalogue (src/wire/ops.ts). The one place the screens read them from.
 */
export function interventionKeys(run: RunView | null): readonly Intervention[] {
  return (run?.scenario.interventions ?? []).flatMap((i) => {
    const def = interventionOf(i.id);
    return def ? [{ ...i, key: def.key }] : [];
  });
}

export function interventionBindings(context: string, run: RunView | null, intervene: (id: string) => void): Binding[] {
  return interventionKeys(run).map((i) => ({ context, keys: [i.key], bar: i.label, help: `${i.label} (${i.actor})`, run: () => intervene(i.id) }));
}
