// The timeline as Chrome/Perfetto trace-event JSON (the "JSON Object Format" that
// ui.perfetto.dev and chrome://tracing open): the guest is one process; each actor is a
// thread with its actions as slices and, nested in them, the spans it was blocked,
// named by the kernel function it slept in; each watched lock is a thread of its held
// spans; the scenario's steps are a thread of their own; pages are counter tracks
// (refcount, above idle, pins); kernel events, signals, exits and verdicts are instants.
// Timestamps are guest microseconds. Pure.
import type { ActorLane, Timeline } from './timeline.js';

export type TraceEvent = {
  name: string;
  ph: 'B' | 'E' | 'i' | 'C' | 'M';
  pid: number;
  tid: number;
  ts?: number;
  s?: 'g' | 'p' | 't';
  cat?: string;
  args?: Record<string, unknown>;
};

export type Trace = { traceEvents: TraceEvent[]; displayTimeUnit: 'ms'; otherData: Record<string, string> };

const PID = 1;
const STEPS_TID = 1;
const KERNEL_TID = 2;
const us = (t: number) => Math.round(t * 1e6);

type Slice = { name: string; start: number; end: number; cat: string; args: Record<string, unknown> };

/**
 * B/E pairs for slices that nest or follow each other (never overlap partially): sorted
 * by start (the longer first), each one closes the slices that ended before it begins.
 */
function beginEnd(slices: readonly Slice[], tid: number): TraceEvent[] {
  const sorted = slices.filter((s) => us(s.end) > us(s.start)).sort((a, b) => a.start - b.start || b.end - a.end);
  const out: TraceEvent[] = [];
  const open: Slice[] = [];
  const close = (until: number) => {
    while (open.length && us(open[open.length - 1]!.end) <= until) {
      const s = open.pop()!;
      out.push({ name: s.name, ph: 'E', pid: PID, tid, ts: us(s.end), cat: s.cat });
    }
  };
  for (const s of sorted) {
    close(us(s.start));
    out.push({ name: s.name, ph: 'B', pid: PID, tid, ts: us(s.start), cat: s.cat, args: s.args });
    open.push(s);
  }
  close(Infinity);
  return out;
}

/** An actor's actions, and its blocked spans cut at the actions' edges so that every piece nests. */
function actorSlices(a: ActorLane, end: number): Slice[] {
  const actions: Slice[] = [];
  for (const x of a.actions) {
    const prev = actions[actions.length - 1];
    const start = prev ? Math.max(x.start, prev.end) : x.start;
    actions.push({ name: x.op, start, end: Math.max(start, x.end ?? end), cat: 'action', args: { result: x.text, ...(x.end === null ? { running: true } : {}) } });
  }
  const edges = [...new Set(actions.flatMap((x) => [x.start, x.end]))].sort((p, q) => p - q);
  const blocked: Slice[] = [];
  for (const s of a.spans) {
    if (s.kind !== 'blocked') continue;
    const cuts = [s.start, ...edges.filter((e) => e > s.start && e < s.end), s.end];
    for (let i = 0; i + 1 < cuts.length; i++)
      blocked.push({ name: s.wchan || 'blocked', start: cuts[i]!, end: cuts[i + 1]!, cat: 'blocked', args: { state: s.state, stack: s.stack.join(' <- ') } });
  }
  return [...actions, ...blocked];
}

export function perfettoTrace(tl: Timeline, about: Record<string, string> = {}): Trace {
  const ev: TraceEvent[] = [];
  const meta = (name: string, tid: number, args: Record<string, unknown>): TraceEvent => ({ name, ph: 'M', pid: PID, tid, args });
  ev.push(meta('process_name', 0, { name: `guest${about.kernel ? ` ${about.kernel}` : ''}` }));

  // The steps: each from its start to the next placed step's (async steps overlap the next).
  const placed = tl.steps.filter((s) => s.start !== null).sort((a, b) => a.start! - b.start!);
  ev.push(meta('thread_name', STEPS_TID, { name: 'scenario steps' }), meta('thread_sort_index', STEPS_TID, { sort_index: 0 }));
  ev.push(
    ...beginEnd(
      placed.map((s, i) => {
        const next = placed[i + 1];
        const end = next ? next.start! : Math.max(s.start!, s.end ?? tl.end);
        return { name: `${s.step} ${s.id}`, start: s.start!, end, cat: 'step', args: { label: s.label, ...(s.end !== null ? { ended: s.end } : {}), ...(s.inferred ? { placedBy: 'its command' } : {}) } };
      }),
      STEPS_TID,
    ),
  );
  for (const v of tl.verdicts) {
    if (v.t === null) continue;
    ev.push({ name: `${v.finding ? 'finding' : v.status}: ${v.id}`, ph: 'i', s: v.finding ? 'g' : 't', pid: PID, tid: STEPS_TID, ts: us(v.t), cat: 'verdict', args: { status: v.status, text: v.text } });
  }

  const tidOf = new Map<string, number>();
  tl.actors.forEach((a, i) => {
    const tid = 10 + i;
    tidOf.set(a.name, tid);
    ev.push(meta('thread_name', tid, { name: `${a.name}${a.pid !== null ? ` (pid ${a.pid})` : ''}` }), meta('thread_sort_index', tid, { sort_index: 10 + i }));
    ev.push(...beginEnd(actorSlices(a, tl.end), tid));
  });
  ev.push(meta('thread_name', KERNEL_TID, { name: 'other tasks (kernel events)' }), meta('thread_sort_index', KERNEL_TID, { sort_index: 1000 }));
  for (const x of tl.instants) {
    const tid = (x.actor && tidOf.get(x.actor)) || KERNEL_TID;
    ev.push({ name: x.name, ph: 'i', s: 't', pid: PID, tid, ts: us(x.t), cat: x.kind, args: { text: x.text, ...(x.pid !== null ? { pid: x.pid } : {}) } });
  }

  tl.locks.forEach((l, i) => {
    const tid = 500 + i;
    ev.push(meta('thread_name', tid, { name: `lock ${l.key}` }), meta('thread_sort_index', tid, { sort_index: 500 + i }));
    const held = l.spans.filter((s) => s.state !== 'free' || s.waiters.length);
    ev.push(
      ...beginEnd(
        held.map((s) => ({
          name: `${s.state}${s.owner ? ` by ${s.owner}` : ''}${s.waiters.length ? `, ${s.waiters.length} waiting` : ''}`,
          start: s.start,
          end: s.end,
          cat: 'lock',
          args: { waiters: s.waiters.join(', ') },
        })),
        tid,
      ),
    );
  });

  // Counters: a sample at each change, and the last value where the page was last seen.
  for (const p of tl.pages) {
    const points = [...p.spans.map((s) => ({ t: s.start, s })), ...(p.spans.length ? [{ t: p.spans[p.spans.length - 1]!.end, s: p.spans[p.spans.length - 1]! }] : [])];
    for (const { t, s } of points) {
      ev.push({ name: `${p.key} refcount`, ph: 'C', pid: PID, tid: 0, ts: us(t), cat: 'page', args: { refcount: s.ref } });
      ev.push({ name: `${p.key} above idle`, ph: 'C', pid: PID, tid: 0, ts: us(t), cat: 'page', args: { above_idle: s.aboveIdle } });
      ev.push({ name: `${p.key} pins`, ph: 'C', pid: PID, tid: 0, ts: us(t), cat: 'page', args: { pins: s.pins } });
    }
  }

  // One order for the file: metadata first, then by time; events of one track keep theirs.
  const indexed = ev.map((e, i) => [e, i] as const);
  indexed.sort(([a, i], [b, j]) => (a.ph === 'M' ? -1 : 0) - (b.ph === 'M' ? -1 : 0) || (a.ts ?? 0) - (b.ts ?? 0) || i - j);
  return { traceEvents: indexed.map(([e]) => e), displayTimeUnit: 'ms', otherData: { generator: 'daxlab export --format perfetto', ...about } };
}
