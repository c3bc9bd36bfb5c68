// The scenario engine (src/lab/engine.ts) seen from the TUI: its scenarios as the picker
// and Guided mode show them, its expectations as the dashboard lists them (pending until
// the engine decides), its verdicts and findings as the screens show them, and when Guided
// mode must not hold a step back (a kernel timer is running). Where a run is comes from the
// engine's typed events (RunEvent), never from its log text.
import type { Finding as EngineFinding, Verdict } from '../lab/engine.js';
import type { LabState } from '../lab/state.js';
import { watchOf } from '../lab/checks/index.js';
import { describe as describePredicate } from '../lab/expect.js';
import type { Scenario, Step } from '../lab/scenario.js';
import { interventionOf, opLabel } from '../wire/ops.js';
import type { ExpectationView, Finding, Intervention, ScenarioInfo, StepInfo } from './model.js';

const stepId = (s: Step, i: number) => s.id ?? `step-${i + 1}`;

function stepLabel(s: Step): string {
  if (s.do && s.actor) return `${s.actor}: ${opLabel(s.do)}`;
  if (s.kill) return `kill ${s.kill.actor} (${s.kill.signal})`;
  if (s.race) return `race: ${s.race.rounds} rounds on ${s.race.file}`;
  if (s.watch) return `watch ${s.watch.label} pages ${s.watch.pages.join(',')}`;
  if (s.waitFor) return `wait until ${describePredicate(s.waitFor.until)}`;
  return s.say.slice(0, 60);
}

/** Interventions the TUI offers for built-in scenarios (the engine's model has none); keys and words from the op catalogue. */
function offer(id: 'drain' | 'release' | 'kill', actor: string): Intervention {
  const iv = interventionOf(id)!;
  return id === 'kill' ? { id: `kill:${actor}`, key: iv.key, label: `kill ${actor}`, actor } : { id, key: iv.key, label: iv.label, actor };
}
const INTERVENTIONS: Record<string, Intervention[]> = {
  'dma-vs-truncate': [offer('kill', 'truncator')],
  'vmsplice-vs-punch': [offer('drain', 'holder'), offer('kill', 'puncher')],
  'map-direct-lease': [offer('release', 'holder'), offer('kill', 'breaker')],
};

export function engineScenarioInfo(s: Scenario): ScenarioInfo {
  const threads = s.threads.map((t) => `"${t.subject}"${t.messageId ? ` ${t.messageId}` : ''}`);
  const needs = [s.needs.fs ? s.needs.fs.join(' or ') : 'xfs or ext4', ...(s.needs.devdax ? [`devdax (${s.needs.devdax})`] : []), ...(s.needs.rdma ? [`soft-RoCE (${s.needs.rdma})`] : []), ...(s.needs.nullBlk ? ['null_blk'] : [])];
  return {
    id: s.id,
    title: s.title,
    threads,
    summary: s.summary,
    needs: needs.join(', '),
    steps: s.steps.map((st): StepInfo => {
      const watch = watchOf(st);
      return { label: stepLabel(st), ...(st.actor ? { actor: st.actor } : {}), say: st.say, ...(watch ? { watch } : {}) };
    }),
    interventions: INTERVENTIONS[s.id] ?? [],
  };
}

/** Every expectation the engine will decide, in order, with the ids and words it uses. */
export function engineExpectations(s: Scenario): ExpectationView[] {
  const out: ExpectationView[] = [];
  s.steps.forEach((st, i) => {
    const id = stepId(st, i);
    if (st.waitFor) out.push({ id: st.waitFor.until.id ?? `${id}.wait`, description: `wait until ${describePredicate(st.waitFor.until)}`, status: 'pending', step: i });
    st.expect?.forEach((p, k) => out.push({ id: p.id ?? `${id}.${k + 1}`, description: describePredicate(p, { ...(st.actor ? { actor: st.actor } : {}), ...(st.do ? { op: st.do.op } : {}) }), status: 'pending', step: i }));
  });
  return out;
}

// Evidence as lines a report can quote: the shapes the engine uses (src/lab/expect.ts:
// taskEvidence, pageEvidence, actions, contextEvidence) in words, anything else as JSON.
type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown) => (typeof v === 'number' ? v : null);
const secs = (v: unknown) => (num(v) === null ? '?' : `${num(v)!.toFixed(3)}s`);

function taskLine(t: Rec): string {
  const stack = Array.isArray(t.stack) ? (t.stack as string[]).slice(0, 4).join(' <- ') : '';
  return `${t.actor} (pid ${t.pid ?? '?'}) ${t.state}${t.wchan ? ` in ${t.wchan}` : ''}${num(t.blockedMs) ? `, blocked ${t.blockedMs} ms` : ''}${stack ? `; stack: ${stack}` : ''}`;
}

function pageLine(p: Rec): string {
  const history = Array.isArray(p.history) ? (p.history as Rec[]).map((h) => `${h.ref}@${secs(h.t)}`).join(' ') : '';
  return `${p.page} refcount ${history || '(no samples)'} (idle ${p.idle ?? '?'}${num(p.peakAboveIdle) !== null ? `, peak +${p.peakAboveIdle}` : ''})`;
}

function actionLine(a: Rec): string {
  const outcome = a.error ?? a.signal ?? (a.ret !== undefined ? `ret ${a.ret}` : a.end === null ? 'still running' : 'returned');
  return `${a.actor} ${a.op} ${secs(a.start)} -> ${a.end === null || a.end === undefined ? '…' : secs(a.end)}: ${outcome}`;
}

function evidenceLines(e: Record<string, unknown> | undefined): string[] {
  const out: string[] = [];
  for (const [key, v] of Object.entries(e ?? {})) {
    if (key === 'task' && isRec(v)) out.push(`task: ${taskLine(v)}`);
    else if (key === 'action' && isRec(v)) out.push(`action: ${actionLine(v)}`);
    else if ((key === 'page' || key === 'pages') && isRec(v) && 'history' in v) out.push(`page: ${pageLine(v)}`);
    else if (key === 'context' && isRec(v)) {
      out.push(`context at ${secs(v.at)}:`);
      for (const t of Array.isArray(v.actors) ? (v.actors as Rec[]) : []) out.push(`  ${taskLine(t)}`);
      for (const p of Array.isArray(v.pages) ? (v.pages as Rec[]) : []) out.push(`  ${pageLine(p)}`);
      for (const l of Array.isArray(v.locks) ? (v.locks as Rec[]) : [])
        if (l.state !== 'free') out.push(`  ${l.lock} ${l.state}${isRec(l.owner) ? ` by ${l.owner.comm}(${l.owner.pid})` : ''}`);
      for (const a of (Array.isArray(v.actions) ? (v.actions as Rec[]) : []).slice(-6)) out.push(`  ${actionLine(a)}`);
    } else {
      const json = typeof v === 'string' ? v : JSON.stringify(v);
      out.push(`${key}: ${json.length > 400 ? `${json.slice(0, 400)}…` : json}`);
    }
  }
  return out;
}

export function verdictView(v: Verdict, step: number | undefined): ExpectationView {
  return { id: v.id, description: v.description, status: v.status, ...(step !== undefined ? { step } : {}), detail: v.detail, evidence: evidenceLines(v.evidence) };
}

export function findingView(f: EngineFinding): Finding {
  return { id: f.expectation, title: f.summary.split(':')[0] ?? f.summary, detail: f.summary, evidence: evidenceLines(f.evidence) };
}

/**
 * A kernel timer that runs on whatever the user does: a breaking lease counts down to
 * fs.lease-break-time, a slow null_blk completes an O_DIRECT in flight on its own. Guided
 * mode does not hold a step back while one runs: the wait would change what the kernel does.
 */
export function kernelTimer(state: LabState): string | null {
  const lease = state.leases.find((l) => /BREAK/.test(l.state));
  if (lease) return `the lease on ${lease.file} is breaking (the kernel's countdown does not wait)`;
  const dio = state.actions.find((a) => a.op === 'odirect' && a.start !== null && a.end === null);
  if (dio) return `${dio.actor}'s O_DIRECT is in flight (the device completes it on its own)`;
  return null;
}

