// The scenario engine (src/lab/engine.ts) seen from the TUI: its scenarios as the picker
// and Guided mode show them, its expectations as the dashboard lists them (pending until
// the engine decides), and a channel that holds the engine at each step boundary while
// Guided mode (or a pause) waits for the user. The engine itself is not changed: it tells
// where it is through its log ("[N] ..." when step N begins, one line per verdict), and it
// reaches the guest through the channel it is given.
import type { AgentChannel } from '../vm/channel.js';
import type { Finding as EngineFinding, ScenarioReport, Verdict } from '../lab/engine.js';
import { describe as describePredicate } from '../lab/expect.js';
import type { Predicate, Scenario, ScenarioOp, Step } from '../lab/scenario.js';
import type { ExpectationView, Finding, Intervention, ScenarioInfo, StepInfo } from './model.js';
import type { PanelId } from './view.js';

const stepId = (s: Step, i: number) => s.id ?? `step-${i + 1}`;

function opLabel(op: ScenarioOp): string {
  switch (op.op) {
    case 'open':
      return `open ${op.path}${op.create ? ' (create)' : ''}`;
    case 'mmap':
      return `mmap ${op.length}${op.flags.length ? ` ${op.flags.join('|')}` : ''}${op.anonymous ? ' anonymous' : ''}`;
    case 'touch':
      return `${op.write ? 'write' : 'read'}-fault pages ${op.pages.join(',')}`;
    case 'vmsplice':
    case 'io_uring_register':
    case 'rdma_reg_mr':
    case 'pattern_write':
    case 'pattern_check':
      return `${op.op} pages ${op.pages.join(',')}`;
    case 'odirect':
      return `O_DIRECT ${op.write ? 'write' : 'read'} ${op.device} pages ${op.pages.join(',')}`;
    case 'truncate':
      return `truncate ${op.path} to ${op.size}`;
    case 'ftruncate':
      return `ftruncate to ${op.size}`;
    case 'fallocate':
      return `fallocate ${op.mode} ${op.offset}+${op.length}`;
    case 'lease':
      return `lease ${op.type}${op.signal ? ` (${op.signal})` : ''}`;
    case 'sleep':
      return `sleep ${op.for}`;
    default:
      return op.op;
  }
}

function stepLabel(s: Step): string {
  if (s.do && s.actor) return `${s.actor}: ${opLabel(s.do)}`;
  if (s.kill) return `kill ${s.kill.actor} (${s.kill.signal})`;
  if (s.race) return `race: ${s.race.rounds} rounds on ${s.race.file}`;
  if (s.watch) return `watch ${s.watch.label} pages ${s.watch.pages.join(',')}`;
  if (s.waitFor) return `wait until ${describePredicate(s.waitFor.until)}`;
  return s.say.slice(0, 60);
}

/** Where a user should look after a step: the panel and row its first expectation is about. */
function watchOf(s: Step): StepInfo['watch'] {
  const preds: Predicate[] = [...(s.expect ?? []), ...(s.waitFor ? [s.waitFor.until] : [])];
  for (const p of preds) {
    const at = (panel: PanelId, row?: string) => ({ panel, ...(row ? { row } : {}) });
    switch (p.check) {
      case 'blocked':
      case 'still-blocked':
      case 'finishes':
      case 'signal':
        return at('actors', p.actor);
      case 'page':
        return at('pages', p.page);
      case 'lock':
        return at('locks', p.lock);
      case 'lease':
        return at('leases', p.file);
      case 'event':
        return at('events');
      default:
        break;
    }
  }
  if (s.watch) return { panel: 'pages', row: `${s.watch.label}#${s.watch.pages[0]}` };
  return undefined;
}

/** Interventions the TUI offers for built-in scenarios (the engine's model has none). */
const kill = (actor: string): Intervention => ({ id: `kill:${actor}`, key: 'K', label: `kill ${actor}`, actor });
const INTERVENTIONS: Record<string, Intervention[]> = {
  'dma-vs-truncate': [kill('truncator')],
  'vmsplice-vs-punch': [{ id: 'drain', key: 'd', label: 'drain the pipe', actor: 'holder' }, kill('puncher')],
  'map-direct-lease': [{ id: 'release', key: 'u', label: 'release the lease', actor: 'holder' }, kill('breaker')],
};

/** What an intervention does: an action in its actor, or SIGKILL to it. */
export const INTERVENTION_OPS: Record<string, { op: 'drain' } | { op: 'lease'; type: 'unlock' } | { op: 'kill' }> = {
  drain: { op: 'drain' },
  release: { op: 'lease', type: 'unlock' },
  kill: { op: 'kill' },
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

export type LogEvent =
  | { kind: 'step'; index: number; skipped: boolean }
  | { kind: 'verdict'; status: 'held' | 'violated' | 'not-applicable'; precondition: boolean; description: string; detail: string };

/** The engine's log lines that say where it is: "[3] ..." and "    held     <description> — <detail>". */
export function parseEngineLog(line: string): LogEvent | null {
  const step = /^\[(\d+)\] (skipped \()?/.exec(line);
  if (step) return { kind: 'step', index: Number(step[1]) - 1, skipped: !!step[2] };
  const v = /^ {4}(held|VIOLATED|n\/a) +(\(precondition\) )?(.*?) — (.*)$/.exec(line);
  if (v) {
    const status = v[1] === 'held' ? 'held' : v[1] === 'VIOLATED' ? 'violated' : 'not-applicable';
    return { kind: 'verdict', status, precondition: !!v[2], description: v[3]!, detail: v[4]! };
  }
  return null;
}

/**
 * The engine's view of the agent channel, with a gate: while `hold()` says so, the next
 * command that acts on the guest (anything but sampling) waits. The engine logs "[N]"
 * before it sends step N's first command, so holding there stops it at the step's start.
 */
export function gatedChannel(channel: AgentChannel, hold: () => Promise<void>): AgentChannel {
  const passive = new Set(['sample', 'ping', 'ready']);
  const request: AgentChannel['request'] = async (command, timeoutMs) => {
    if (!passive.has(command.cmd)) await hold();
    return channel.request(command, timeoutMs);
  };
  return new Proxy(channel, {
    get(target, prop) {
      if (prop === 'request') return request;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export type EngineRunResult = { report: ScenarioReport };
