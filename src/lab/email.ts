// `daxlab report <run> --format email`: a run as a bug report for a kernel list. Plain
// text, 72 columns, no Markdown: subject, kernel release and config facts, what was
// expected (the threads by subject and Message-ID), what happened, the evidence (the
// put path the refcount watchpoint saw, the stacks, the refcount history and the
// timeline lanes as text), the exact daxlab command, and the standalone reproducer
// attached (MIME multipart/mixed, each attachment text/plain). A pure function of the
// run's report and what the command layer read for it.
import type { PutPath } from './putpath.js';
import { fnName } from './putpath.js';

export const EMAIL_WIDTH = 72;

/** What `daxlab run --json` printed, as far as the email reads it. */
export type EmailRun = {
  scenario: { id: string; title: string; summary: string; threads: ReadonlyArray<{ subject: string; messageId?: string | undefined; year?: number | undefined }> };
  kernel: { release: string; version: string; fsdaxIdleRefcount: number | null };
  profile: { name: string; fs: string };
  seed: number;
  verdict: string;
  exitCode: number;
  cannotTest: string | null;
  expectations: ReadonlyArray<{ id: string; status: string; description: string; detail: string; t?: number | null }>;
  findings: ReadonlyArray<{ expectation: string; summary: string; evidence: Record<string, unknown> }>;
  measurements?: Record<string, unknown>;
};

export type EmailInput = {
  run: EmailRun;
  /** The command that ran it ("npx daxlab run dma-vs-truncate --profile default"). */
  command: string;
  /** CONFIG_* facts of the kernel that ran (from its config file), in the order given. */
  config?: ReadonlyArray<[string, string]>;
  /** timelineReport() of the run's transcript, when there is one. */
  timeline?: readonly string[];
  /** The exported reproducer, or why the scenario cannot be exported. */
  reproducer?: { files: ReadonlyArray<{ name: string; text: string }> } | { why: string };
  /** Message date (RFC 2822) and a boundary: fixed in tests. */
  date?: string;
  boundary?: string;
  from?: string;
  to?: string;
};

/** Words wrapped to width, continuation lines indented. */
export function wrap(text: string, width = EMAIL_WIDTH, first = '', rest = first): string[] {
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > width) {
      out.push(line);
      line = rest;
      empty = true;
    }
    if (!empty) line += ' ';
    // A word longer than the line (a stack frame, an address) is cut, never left long.
    let w = word;
    while (line.length + w.length > width && w.length > 0) {
      const room = Math.max(1, width - line.length);
      out.push(line + w.slice(0, room));
      w = w.slice(room);
      line = rest;
    }
    line += w;
    empty = false;
  }
  if (!empty || !out.length) out.push(line);
  return out.map((l) => l.trimEnd());
}

/** Any line of a block clipped to width (stack lines, lanes): nothing reaches column 73. */
const clip = (l: string, width = EMAIL_WIDTH) => (l.length > width ? `${l.slice(0, width - 1)}~` : l);
const ascii = (s: string) => s.replace(/[^\x20-\x7e]/g, (c) => (c === '\u2014' || c === '\u2013' ? '-' : c === '\u2019' ? "'" : '?'));

type Ev = Record<string, unknown>;
const obj = (v: unknown): Ev | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Ev) : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function subjectOf(r: EmailRun): string {
  const what = r.findings.length ? `${r.findings.map((f) => f.expectation).join(', ')} violated` : r.verdict;
  return ascii(`[BUG] ${r.profile.fs} DAX on ${r.kernel.release}: ${r.scenario.title} (${r.scenario.id}: ${what})`);
}

function putPathLines(paths: readonly PutPath[]): string[] {
  const out: string[] = [];
  const seen = new Map<string, string>();
  for (const p of paths) {
    // two labels on one struct page: one watchpoint, the same writes
    const key = JSON.stringify(p.writes);
    if (p.writes.length && seen.has(key)) {
      out.push(...wrap(`${p.page}: the same struct page as ${seen.get(key)} (the same writes).`, EMAIL_WIDTH, '  ', '    '));
      continue;
    }
    seen.set(key, p.page);
    out.push(...wrap(`${p.page} (idle refcount ${p.idle}): hardware write watchpoint on page->_refcount${p.armed ? '' : ` - not armed: ${p.why}`}`, EMAIL_WIDTH, '  ', '    '));
    for (const w of p.writes.slice(0, 12)) {
      const from = w.refAfter !== null && w.delta !== null ? `${w.refAfter - w.delta} -> ${w.refAfter}` : `-> ${w.refAfter ?? '?'}`;
      out.push(clip(`    ${w.t.toFixed(3)}s  ${from.padEnd(12)} ${fnName(w.fn)}()`));
    }
    if (p.writes.length > 12) out.push(`    ... ${p.writes.length - 12} more write(s)`);
    if (p.release) {
      out.push(`  The write that brought it back to idle, with its kernel stack:`);
      for (const f of p.release.stack.slice(0, 14)) out.push(clip(`    ${f}`));
      out.push(...wrap(p.text, EMAIL_WIDTH, '  ', '  '));
      out.push(...wrap(`Cross-check: ${p.crossCheck.text}.`, EMAIL_WIDTH, '  ', '  '));
    } else out.push(...wrap(p.text, EMAIL_WIDTH, '  ', '  '));
  }
  return out;
}

function stacksOf(f: EmailRun['findings'][number]): string[] {
  const ctx = obj(f.evidence.context);
  const out: string[] = [];
  const actors = arr(ctx?.actors).map(obj).filter((a): a is Ev => !!a);
  const task = obj(f.evidence.task);
  const list = task ? [task, ...actors.filter((a) => a.actor !== task.actor)] : actors;
  for (const a of list) {
    const stack = arr(a.stack).map(String);
    if (!stack.length) continue;
    out.push(...wrap(`${a.actor} (pid ${a.pid ?? '?'}): ${a.state ?? '?'} in ${a.wchan || '?'}${a.blockedMs ? `, asleep ${a.blockedMs} ms` : ''}`, EMAIL_WIDTH, '  ', '    '));
    for (const fr of stack.slice(0, 16)) out.push(clip(`    ${fr}`));
  }
  return out;
}

function refHistoryOf(f: EmailRun['findings'][number]): string[] {
  const ctx = obj(f.evidence.context);
  const out: string[] = [];
  for (const p of arr(ctx?.pages).map(obj)) {
    if (!p) continue;
    const h = arr(p.history).map(obj).filter((x): x is Ev => !!x);
    if (!h.length) continue;
    out.push(`  ${p.page} (idle ${p.idle ?? '?'}): guest time, refcount, above idle, pins`);
    for (const s of h.slice(-12)) out.push(`    ${Number(s.t).toFixed(3)}s  ref ${String(s.ref).padStart(5)}  +${s.aboveIdle}  pins ${s.pins}`);
  }
  return out;
}

const CONFIG_WHY: Record<string, string> = {
  CONFIG_FS_DAX: 'fsdax',
  CONFIG_ZONE_DEVICE: 'struct pages for pmem',
  CONFIG_TRANSPARENT_HUGEPAGE: 'PMD faults',
  CONFIG_BLK_DEV_NULL_BLK: 'the slow device',
  CONFIG_HAVE_HW_BREAKPOINT: 'the refcount watchpoint',
  CONFIG_PERF_EVENTS: 'the refcount watchpoint',
  CONFIG_KPROBE_EVENTS: 'the wake-up probes',
};

export function formatEmail(input: EmailInput): string {
  const r = input.run;
  const body: string[] = [];
  const para = (text: string) => body.push(...wrap(ascii(text)), '');
  const heading = (h: string) => body.push(h, '-'.repeat(h.length));

  para(`The kernel did not do what the ${r.scenario.id} scenario of daxlab expects on ${r.kernel.release}. ${r.scenario.summary}`);

  heading('Kernel');
  body.push(...wrap(ascii(`release ${r.kernel.release}`), EMAIL_WIDTH, '  ', '    '));
  body.push(...wrap(ascii(`version ${r.kernel.version}`), EMAIL_WIDTH, '  ', '    '));
  body.push(...wrap(`${r.profile.fs} on an fsdax pmem namespace (QEMU NVDIMM), mounted -o dax; daxlab profile ${r.profile.name}`, EMAIL_WIDTH, '  ', '    '));
  body.push(...wrap(`fsdax idle refcount ${r.kernel.fsdaxIdleRefcount ?? 'unknown'} (calibrated on this kernel)`, EMAIL_WIDTH, '  ', '    '));
  if (input.config?.length) {
    body.push('  config:');
    for (const [k, v] of input.config) body.push(clip(`    ${k}=${v}${CONFIG_WHY[k] ? `  (${CONFIG_WHY[k]})` : ''}`));
  }
  body.push('');

  heading('What was expected');
  for (const t of r.scenario.threads)
    body.push(...wrap(ascii(`From "${t.subject}"${t.messageId ? ` ${t.messageId}` : ''}${t.year ? ` (${t.year})` : ''}.`), EMAIL_WIDTH, '  ', '    '));
  const violated = r.expectations.filter((v) => v.status === 'violated');
  for (const v of violated) body.push(...wrap(ascii(`${v.id}: ${v.description}`), EMAIL_WIDTH, '  - ', '    '));
  body.push(...wrap(`${r.expectations.filter((v) => v.status === 'held').length} other expectations of the scenario held on this run.`, EMAIL_WIDTH, '  ', '  '), '');

  heading('What happened');
  if (!r.findings.length) para(r.cannotTest ? `Nothing: the run could not test (${r.cannotTest}).` : 'Every expectation held: there is no finding in this run.');
  for (const f of r.findings) body.push(...wrap(ascii(`${f.expectation}: ${f.summary}`), EMAIL_WIDTH, '  - ', '    '), '');

  heading('Evidence');
  const paths = ((r.findings.map((f) => f.evidence.putPath).find(Array.isArray) as PutPath[] | undefined) ?? (r.measurements?.putPath as PutPath[] | undefined) ?? []).filter(
    (p) => p && typeof p === 'object',
  );
  if (paths.length) {
    body.push('Who released the page (refcount writes, guest seconds):');
    body.push(...putPathLines(paths), '');
  } else body.push(...wrap('The refcount watchpoint was not armed in this run: the put path is not known.'), '');
  const first = r.findings[0];
  if (first) {
    const stacks = stacksOf(first);
    if (stacks.length) body.push('Kernel stacks when the finding was made:', ...stacks, '');
    const hist = refHistoryOf(first);
    if (hist.length) body.push('Refcount history as the observer sampled it:', ...hist, '');
  }
  if (input.timeline?.length) body.push(...input.timeline.map((l) => clip(ascii(l))), '');

  heading('How to run it again');
  body.push(...wrap(input.command, EMAIL_WIDTH, '  $ ', '      '));
  body.push(...wrap(`(exit ${r.exitCode}: ${r.verdict}; seed ${r.seed})`, EMAIL_WIDTH, '  ', '  '), '');
  const rep = input.reproducer;
  if (rep && 'files' in rep) {
    para(
      `Without daxlab: the attached ${rep.files.map((f) => f.name).join(' and ')} (written by "daxlab scenario export ${r.scenario.id} --format c") run the same actors and steps and check from user space what can be checked there; the script sets up the pmem namespace, the dax mount and null_blk. Exit 0 held, 1 reproduced, 125 could not test.`,
    );
  } else if (rep) para(`No standalone reproducer: ${rep.why}.`);
  body.push('-- ', `Written by daxlab report --format email from a run of ${r.scenario.id}.`);

  const boundary = input.boundary ?? `daxlab-${Date.now().toString(36)}`;
  const headers = [
    `From: ${input.from ?? 'daxlab <daxlab@localhost>'}`,
    `To: ${input.to ?? 'nvdimm@lists.linux.dev'}`,
    'Cc: linux-fsdevel@vger.kernel.org, linux-mm@kvack.org',
    ...wrapHeader(`Subject: ${subjectOf(r)}`),
    `Date: ${input.date ?? new Date().toUTCString()}`,
    'MIME-Version: 1.0',
  ];
  const files = rep && 'files' in rep ? rep.files : [];
  if (!files.length) return [...headers, 'Content-Type: text/plain; charset=us-ascii', '', ...body, ''].join('\n');
  const parts = [
    ...headers,
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    'This is a multi-part message in MIME format.',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Disposition: inline',
    '',
    ...body,
  ];
  for (const f of files)
    parts.push(`--${boundary}`, `Content-Type: text/plain; charset=us-ascii; name="${f.name}"`, `Content-Disposition: attachment; filename="${f.name}"`, '', ascii2(f.text));
  parts.push(`--${boundary}--`, '');
  return parts.join('\n');
}

/** An attachment as is (it is source), only non-ASCII replaced. */
const ascii2 = (s: string) => s.replace(/[^\x09\x0a\x20-\x7e]/g, '?').replace(/\n$/, '');

/** A long header folded (RFC 5322: continuation lines start with white space). */
function wrapHeader(h: string): string[] {
  return wrap(h, EMAIL_WIDTH, '', ' ');
}
