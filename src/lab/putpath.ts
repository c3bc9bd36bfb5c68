// Who changed a watched page's refcount, and whether the era's wake-up ran for it.
//
// The agent arms a hardware write watchpoint on the struct page's _refcount
// (refwatch.c): every write arrives as an event `hwbp:refcount_write` with the
// function that wrote (fn), the kernel stack, and the refcount read right after it
// (refAfter). The wake-up side is kprobes filtered on the page: wake_up_var() (the var
// is &page->_refcount before v6.15, the page itself after) and the fsdax put helper
// of the era (__put_devmap_managed_page_refs 6.1, __put_devmap_managed_folio_refs
// 6.12, free_zone_device_folio 7.x), which fetches the refcount before its own
// decrement. A pure function of the reducer's state: the engine attaches it to
// findings, the email report prints it.
import type { EventMessage } from '../wire/protocol.js';
import type { LabState, PageKey } from './state.js';

/** What the agent answered to "refwatch" (one entry per armed page), or why it could not. */
export type RefWatchReply = {
  armed: Array<{ page: string; pfn: string; structPage: string; refAddr: string; refNow: number; cpus: number }>;
  probes?: Array<{ name: string; function: string; status: string; why?: string }>;
  symbols?: number;
};
export type RefWatchStatus = { reply: RefWatchReply | null; error: string | null };

export type RefWrite = {
  t: number;
  fn: string;
  stack: string[];
  pid: number | null;
  /** The refcount read through kcore right after the hit (null: the read failed). */
  refAfter: number | null;
  readLagUs: number | null;
  /** refAfter less the previous reading (the previous hit's, or the observer's sample before the first). */
  delta: number | null;
};

export type Release = RefWrite & {
  toIdle: boolean;
  /** wake_up_var() on the page's _refcount (or on the page) within WINDOW of the write. */
  wakeUp: { probed: boolean; seen: boolean; t: number | null };
  /** The era's fsdax put helper ran on this page within WINDOW (with the refcount it read before its decrement). */
  helper: { probed: string[]; seen: string | null; refBefore: number | null };
};

export type PutPath = {
  page: PageKey;
  idle: number;
  /** Whether the watchpoint was armed; when not, why. */
  armed: boolean;
  why: string | null;
  writes: RefWrite[];
  /** The write that brought the page back to its idle refcount last (the I/O's release). */
  release: Release | null;
  /** The refcount the watchpoint read against the observer's first sample after it, and the helper's own read. */
  crossCheck: { observerAfter: number | null; agrees: boolean | null; text: string };
  /** One sentence for a finding. */
  text: string;
};

/** How close (s) a wake-up or a helper call must be to the write to belong to it. */
const WINDOW = 0.05;
const WAKE_EVENTS = /^(wake_up_var|__wake_up_bit)$/;
const HELPERS = /^(__put_devmap_managed_page_refs|__put_devmap_managed_folio_refs|free_zone_device_folio|free_zone_device_page)$/;

const num = (v: string | number | undefined): number | null => {
  if (v === undefined) return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
};
const hex = (v: string | number | undefined): bigint | null => {
  if (v === undefined) return null;
  try {
    return BigInt(typeof v === 'number' ? v : v.startsWith('0x') ? v : `0x${v}`);
  } catch {
    return null;
  }
};

/** The refcount the observer read before a write at t that left refAfter (see putPath). */
function observedBefore(samples: readonly { t: number; ref: number }[], t: number, refAfter: number | null): number | null {
  const before = samples.filter((s) => s.t <= t);
  const last = before.at(-1);
  if (last && last.ref === refAfter && before.length > 1) return before.at(-2)!.ref;
  return last?.ref ?? null;
}

/** The first frame that is not a refcount helper itself: the caller a maintainer looks for. */
export function fnName(frame: string): string {
  return frame.replace(/\+0x[0-9a-f]+$/, '').replace(/ \[.*\]$/, '');
}

export function putPath(state: LabState, page: PageKey, status: RefWatchStatus | undefined): PutPath {
  const h = state.refHistory[page];
  const idle = h?.idle ?? 1;
  const armed = status?.reply?.armed.find((a) => a.page === page);
  const empty = (why: string): PutPath => ({
    page,
    idle,
    armed: false,
    why,
    writes: [],
    release: null,
    crossCheck: { observerAfter: null, agrees: null, text: why },
    text: `who released ${page} is not known: ${why}`,
  });
  if (!status) return empty('the refcount watchpoint was not asked for');
  if (status.error || !armed) return empty(`the refcount watchpoint could not be armed (${status.error ?? `${page} not armed`})`);
  const samples = h?.samples ?? [];
  // By address: two labels on one struct page share one breakpoint (its hits carry the first label).
  const refAddr = hex(armed.refAddr);
  const hits = state.events.filter(
    (e) => e.src === 'hwbp' && e.name === 'refcount_write' && (e.fields.refAddr !== undefined ? hex(e.fields.refAddr) === refAddr : e.fields.page === page),
  );
  const writes: RefWrite[] = [];
  // The first write's "before" comes from the observer. A sample is stamped when it
  // starts and reads the page later, so the last sample stamped before the write may have
  // read the page after it: a refcount write always changes the count, so a sample that
  // already shows the written value overlapped the write, and the one before it is the
  // "before" (seen: a delta of 0 for gup's +1 on 6.1.192). Later writes follow the
  // watchpoint's own previous write.
  for (const e of hits) {
    const refAfter = num(e.fields.refAfter);
    const prevRef = writes.length ? writes[writes.length - 1]!.refAfter : observedBefore(samples, e.t, refAfter);
    writes.push({
      t: e.t,
      fn: String(e.fields.fn ?? ''),
      stack: String(e.fields.stack ?? '').split(',').filter(Boolean),
      pid: e.pid ?? null,
      refAfter,
      readLagUs: num(e.fields.readLagUs),
      delta: refAfter !== null && prevRef !== null ? refAfter - prevRef : null,
    });
  }
  const probes = status.reply?.probes ?? [];
  const attached = (re: RegExp) => probes.filter((p) => re.test(p.name) && p.status === 'attached').map((p) => p.name);
  const wakeProbed = attached(WAKE_EVENTS).length > 0;
  const helperProbed = attached(HELPERS);
  const pageAddr = hex(armed.structPage);
  const near = (e: EventMessage, t: number) => e.t >= t - WINDOW && e.t <= t + WINDOW;
  const wakes = state.events.filter((e) => e.src === 'daxlab' && WAKE_EVENTS.test(e.name) && [refAddr, pageAddr].includes(hex(e.fields.var)));
  const helpers = state.events.filter((e) => e.src === 'daxlab' && HELPERS.test(e.name) && hex(e.fields.page) === pageAddr);

  // Idle as the observer counts it right after the write (ref less what is above idle):
  // from v6.15 a mapping holds a reference of its own on an idle page.
  const idleAt = (t: number) => {
    const s = samples.find((x) => x.t >= t);
    return s ? s.ref - s.aboveIdle : idle;
  };
  const idleWrites = writes.filter((w) => w.refAfter !== null && w.refAfter <= idleAt(w.t) && (w.delta ?? -1) < 0);
  const last = idleWrites[idleWrites.length - 1];
  let release: Release | null = null;
  if (last) {
    const wake = wakes.find((e) => near(e, last.t));
    const helper = helpers.find((e) => near(e, last.t));
    release = {
      ...last,
      toIdle: true,
      wakeUp: { probed: wakeProbed, seen: wake !== undefined, t: wake?.t ?? null },
      helper: { probed: helperProbed, seen: helper?.name ?? null, refBefore: helper ? num(helper.fields.ref) : null },
    };
  }
  // Cross-check: the observer's first sample after the write reads what the watchpoint read.
  let crossCheck: PutPath['crossCheck'] = { observerAfter: null, agrees: null, text: 'no release to cross-check' };
  if (release) {
    const after = samples.find((s) => s.t >= release!.t);
    const parts: string[] = [];
    let agrees: boolean | null = null;
    if (after) {
      agrees = after.ref === release.refAfter;
      parts.push(`the observer's next sample (${Math.round((after.t - release.t) * 1000)} ms later) read ${after.ref}, the watchpoint ${release.refAfter}`);
    } else parts.push('no observer sample after the write');
    if (release.helper.refBefore !== null) {
      // free_zone_device_* run once the count is 0 (7.x): they read what the write left
      const freeing = /^free_zone_device/.test(release.helper.seen ?? '');
      const ok = release.refAfter !== null && (freeing ? release.helper.refBefore === release.refAfter : release.helper.refBefore > release.refAfter);
      agrees = (agrees ?? true) && ok;
      parts.push(`${release.helper.seen} read ${release.helper.refBefore} ${freeing ? 'when called (the folio free)' : 'before its decrement'}`);
    }
    crossCheck = { observerAfter: after?.ref ?? null, agrees, text: parts.join('; ') };
  }
  return { page, idle, armed: true, why: null, writes, release, crossCheck, text: sentence(page, writes, release, wakeProbed, helperProbed) };
}

function sentence(page: PageKey, writes: RefWrite[], r: Release | null, wakeProbed: boolean, helperProbed: string[]): string {
  if (!writes.length) return `the watchpoint on ${page}'s _refcount saw no write`;
  if (!r) return `the watchpoint saw ${writes.length} write(s) to ${page}'s _refcount, none that brought it back to idle`;
  const callers = r.stack.slice(1, 4).map(fnName).join(' <- ');
  const from = r.refAfter !== null && r.delta !== null ? `${r.refAfter - r.delta} -> ${r.refAfter}` : `-> ${r.refAfter}`;
  const wake = !wakeProbed
    ? 'whether wake_up_var() ran is not known (no probe on it)'
    : r.wakeUp.seen
      ? 'wake_up_var() ran for it'
      : 'no wake_up_var() for the page followed';
  const helper = !helperProbed.length
    ? ''
    : r.helper.seen
      ? `; it went through ${r.helper.seen}()`
      : `; ${helperProbed.join('()/')}() did not run for it`;
  return `${page}'s refcount went ${from} in ${fnName(r.fn)}()${callers ? ` (called from ${callers})` : ''}; ${wake}${helper}`;
}
