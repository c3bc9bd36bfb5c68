// Findings a maintainer can act on: the put path (putpath.ts), the C reproducer
// (exportC.ts) and the email report (email.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initialState, reduce, type LabState } from '../../src/lab/state.js';
import { putPath, type RefWatchStatus } from '../../src/lab/putpath.js';
import { exportC, toPosixRegex } from '../../src/lab/exportC.js';
import { builtinScenarios } from '../../src/lab/scenarios/index.js';
import { EMAIL_WIDTH, formatEmail, wrap, type EmailRun } from '../../src/lab/email.js';
import type { EventMessage, PageState } from '../../src/wire/protocol.js';
import { snap } from './messages.js';

const PAGE = '0xffffea0000f00000';
const REF = '0xffffea0000f00034';

const page = (ref: number, idle = 1): PageState => ({
  file: 'victim',
  index: 0,
  pfn: '0x3c000',
  zoneDevice: true,
  ref,
  idle,
  aboveIdle: ref - idle,
  pins: Math.floor((ref - idle) / 1024),
  mapcount: 0,
  flags: [],
  mapping: 'victim',
  pageIndex: 0,
  entry: 'unlocked',
});

const hit = (t: number, fn: string, stack: string[], refAfter: number): EventMessage => ({
  t,
  kind: 'event',
  src: 'hwbp',
  name: 'refcount_write',
  pid: 0,
  fields: { page: 'victim#0', pfn: '0x3c000', ip: '0xffffffff81000000', fn, stack: stack.join(','), cpu: 0, tgid: 0, refAfter, readLagUs: 300 },
});
const kprobe = (t: number, name: string, fields: Record<string, string>): EventMessage => ({ t, kind: 'event', src: 'daxlab', name, pid: 0, comm: 'x', fields });

const armed = (probes: Array<[string, string]>): RefWatchStatus => ({
  reply: {
    armed: [{ page: 'victim#0', pfn: '0x3c000', structPage: PAGE, refAddr: REF, refNow: 1, cpus: 2 }],
    probes: probes.map(([name, status]) => ({ name, function: name, status })),
  },
  error: null,
});

function fold(msgs: Array<Parameters<typeof reduce>[1]>): LabState {
  return msgs.reduce((s, m) => reduce(s, m), initialState());
}

describe('put path', () => {
  it('6.1: the release that brought the page back to idle, and no wake-up for it', () => {
    const state = fold([
      snap(10, { pages: [page(1)] }),
      hit(10.5, '__bio_iov_iter_get_pages+0x1c0', ['__bio_iov_iter_get_pages+0x1c0', 'bio_iov_iter_get_pages+0x3e', '__blkdev_direct_IO_simple+0x14d'], 2),
      snap(10.6, { pages: [page(2)] }),
      hit(12.5, '__bio_release_pages+0x6a', ['__bio_release_pages+0x6a', '__blkdev_direct_IO_simple+0x1e6', 'blkdev_read_iter+0xb8', 'vfs_read+0x1ad'], 1),
      // a wake-up of something else: another address
      kprobe(12.501, 'wake_up_var', { var: '0xffff888001234568' }),
      snap(12.6, { pages: [page(1)] }),
    ]);
    const p = putPath(state, 'victim#0', armed([['wake_up_var', 'attached'], ['__put_devmap_managed_page_refs', 'attached'], ['free_zone_device_folio', 'unavailable']]));
    expect(p.writes.map((w) => w.delta)).toEqual([1, -1]);
    expect(p.release?.fn).toBe('__bio_release_pages+0x6a');
    expect(p.release?.wakeUp).toEqual({ probed: true, seen: false, t: null });
    expect(p.release?.helper.seen).toBeNull();
    expect(p.crossCheck.agrees).toBe(true);
    expect(p.text).toContain('2 -> 1 in __bio_release_pages()');
    expect(p.text).toContain('no wake_up_var() for the page followed');
    expect(p.text).toContain('__put_devmap_managed_page_refs() did not run for it');
  });

  it("a sample stamped before the first write but read after it is not the write's \"before\"", () => {
    const state = fold([
      snap(10, { pages: [page(1)] }),
      // stamped 10 ms before gup's +1, its page read after it (seen on 6.1.192)
      snap(10.49, { pages: [page(2)] }),
      hit(10.5, 'try_grab_folio+0x13f', ['try_grab_folio+0x13f', 'internal_get_user_pages_fast+0x598'], 2),
      hit(12.5, '__bio_release_pages+0x6a', ['__bio_release_pages+0x6a', '__blkdev_direct_IO_simple+0x1e6'], 1),
      snap(12.6, { pages: [page(1)] }),
    ]);
    const p = putPath(state, 'victim#0', armed([['wake_up_var', 'attached']]));
    expect(p.writes.map((w) => w.delta)).toEqual([1, -1]);
  });

  it('6.12: the unpin goes through the devmap helper, which wakes; the helper read agrees', () => {
    const state = fold([
      snap(10, { pages: [page(1)] }),
      hit(10.5, 'try_grab_folio+0x50', ['try_grab_folio+0x50'], 1025),
      snap(10.6, { pages: [page(1025)] }),
      kprobe(12.4999, '__put_devmap_managed_folio_refs', { page: PAGE, refs: '1024', ref: '1025' }),
      hit(12.5, '__put_devmap_managed_folio_refs+0x22', ['__put_devmap_managed_folio_refs+0x22', 'gup_put_folio+0x51', 'unpin_user_folio+0x1b', '__bio_release_pages+0x120'], 1),
      kprobe(12.5001, 'wake_up_var', { var: REF }),
      snap(12.6, { pages: [page(1)] }),
    ]);
    const p = putPath(state, 'victim#0', armed([['wake_up_var', 'attached'], ['__put_devmap_managed_folio_refs', 'attached']]));
    expect(p.release?.delta).toBe(-1024);
    expect(p.release?.wakeUp.seen).toBe(true);
    expect(p.release?.helper).toEqual({ probed: ['__put_devmap_managed_folio_refs'], seen: '__put_devmap_managed_folio_refs', refBefore: 1025 });
    expect(p.crossCheck.agrees).toBe(true);
    expect(p.text).toContain('1025 -> 1');
    expect(p.text).toContain('gup_put_folio <- unpin_user_folio <- __bio_release_pages');
    expect(p.text).toContain('wake_up_var() ran for it');
  });

  it('a watchpoint reading the observer contradicts is not agreement', () => {
    const state = fold([snap(10, { pages: [page(2)] }), hit(12.5, 'f+0x1', ['f+0x1'], 1), snap(12.6, { pages: [page(2)] })]);
    const p = putPath(state, 'victim#0', armed([]));
    expect(p.crossCheck.agrees).toBe(false);
    expect(p.text).toContain('whether wake_up_var() ran is not known');
  });

  it('says why when the watchpoint was not armed', () => {
    const p = putPath(fold([snap(1, { pages: [page(1)] })]), 'victim#0', { reply: null, error: 'refwatch: perf_event_open(PERF_TYPE_BREAKPOINT): No such device' });
    expect(p.armed).toBe(false);
    expect(p.text).toMatch(/could not be armed.*No such device/);
  });
});

describe('scenario export --format c', () => {
  const gcc = (() => {
    try {
      execFileSync('gcc', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it('the regular expressions become POSIX ones, or the export refuses', () => {
    expect(toPosixRegex('(break_(dax_)?layouts?|wait_page_idle)\\b')).toBe('(break_(dax_)?layouts?|wait_page_idle)');
    expect(() => toPosixRegex('(?:x)')).toThrow(/POSIX/);
  });

  it('exports the step scenarios and refuses the others with the reason', () => {
    const out = Object.fromEntries(builtinScenarios.map((s) => [s.id, exportC(s)]));
    expect(out['dma-vs-truncate']!.ok).toBe(true);
    expect(out['vmsplice-vs-punch']!.ok).toBe(true);
    const why = (id: string) => (out[id]!.ok ? '' : (out[id] as { why: string }).why);
    expect(why('fault-vs-truncate')).toMatch(/seeded race/);
    expect(why('map-direct-lease')).toMatch(/lease-break-time/);
    expect(why('pin-accounting')).toMatch(/RDMA/);
    const dma = out['dma-vs-truncate'] as Extract<ReturnType<typeof exportC>, { ok: true }>;
    // the steps come from the definition: every step id, the finding's id, the actors
    for (const st of builtinScenarios.find((s) => s.id === 'dma-vs-truncate')!.steps) expect(dma.c).toContain(`.id = "${st.id}"`);
    expect(dma.c).toContain('"truncate-woken"');
    expect(dma.c).toContain('{ "dma", "truncator" }');
    // the wake-up check's reference is the O_DIRECT read returning
    expect(dma.c).toMatch(/truncate-woken.*\.step = 3, \.ref = REF_STEP_END/);
    expect(dma.unchecked.some((u) => /^fault\.1: .*refcount/.test(u))).toBe(true);
    expect(dma.sh).toContain('completion_nsec=2000000000');
    expect(dma.sh).toContain('mount -o dax');
  });

  it.runIf(gcc)('compiles with gcc -Wall -Wextra -Werror', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'findings-repro-'));
    try {
      for (const id of ['dma-vs-truncate', 'vmsplice-vs-punch']) {
        const r = exportC(builtinScenarios.find((s) => s.id === id)!);
        if (!r.ok) throw new Error(r.why);
        fs.writeFileSync(path.join(dir, `${id}.c`), r.c);
        execFileSync('gcc', ['-Wall', '-Wextra', '-Werror', '-O2', '-o', path.join(dir, id), path.join(dir, `${id}.c`)], { stdio: 'pipe' });
        // without arguments it is a usage mistake of the caller: could not test
        let code = 0;
        try {
          execFileSync(path.join(dir, id), [], { stdio: 'pipe' });
        } catch (err) {
          code = (err as { status: number }).status;
        }
        expect(code).toBe(125);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('report --format email', () => {
  const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/dma-vs-truncate-6.1.run.json', import.meta.url), 'utf8')) as EmailRun;
  const text = formatEmail({
    run: fixture,
    command: 'npx daxlab run dma-vs-truncate --profile default',
    config: [['CONFIG_FS_DAX', 'y']],
    reproducer: { files: [{ name: 'dma-vs-truncate.c', text: 'int main(void)\n{\n\treturn 0;\n}\n' }] },
    date: 'Wed, 02 Dec 2026 01:00:00 GMT',
    boundary: 'b0',
  });
  const body = text.split('\n--b0\n')[1]!;

  it('is a MIME message whose text is 72 columns and carries no Markdown', () => {
    expect(text).toMatch(/^From: .*\nTo: .*\nCc: .*\nSubject: \[BUG\] xfs DAX on 6\.1\.0-\d+-amd64: /);
    expect(text).toContain('Content-Type: multipart/mixed; boundary="b0"');
    expect(text).toContain('Content-Disposition: attachment; filename="dma-vs-truncate.c"');
    const lines = body.split('\n');
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(EMAIL_WIDTH);
    expect(lines.filter((l) => /^(#|```|\*\*|> )|\]\(http/.test(l))).toEqual([]);
    expect(body).toMatch(/[^\x09\x0a\x20-\x7e]/.test(body) ? /never/ : /./);
  });

  it('says the kernel, the thread, what happened, the put path and the command', () => {
    expect(body).toContain(`release ${fixture.kernel.release}`);
    expect(body).toContain('CONFIG_FS_DAX=y');
    expect(body).toContain('<20220704074054.32310-1-songmuchun@bytedance.com>');
    expect(body).toContain('<20171026105850.GA31161@quack2.suse.cz>');
    expect(body).toMatch(/- truncate-woken: /);
    const release = (fixture.findings[0]!.evidence.putPath as Array<{ release: { fn: string } }>)[0]!.release.fn.replace(/\+0x.*/, '');
    expect(body).toContain(`${release}()`);
    expect(body).toContain('Cross-check:');
    expect(body).toContain('$ npx daxlab run dma-vs-truncate --profile default');
  });

  it('wraps long words instead of leaving them long', () => {
    for (const l of wrap(`x ${'y'.repeat(200)} z`, 72, '  ', '    ')) expect(l.length).toBeLessThanOrEqual(72);
  });
});

describe('the commands', () => {
  it('scenario export --format c writes the two files; a scenario it cannot write is exit 125 with the reason', async () => {
    const { cli, noStack } = await import('./cliHarness.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'findings-export-'));
    try {
      const ok = await cli(['scenario', 'export', 'vmsplice-vs-punch', '--format', 'c', '-o', dir]);
      expect(ok.code).toBe(0);
      expect(fs.readdirSync(dir).sort()).toEqual(['vmsplice-vs-punch.c', 'vmsplice-vs-punch.sh']);
      expect(ok.err).toMatch(/not checked from user space \(\d+\)/);
      const no = await cli(['scenario', 'export', 'fault-vs-truncate', '--format', 'c', '-o', dir]);
      expect(no.code).toBe(125);
      expect(no.err).toMatch(/fault-vs-truncate cannot be exported as C: .*seeded race/);
      noStack(no.err);
      const bad = await cli(['scenario', 'export', 'map-sync', '--format', 'pdf']);
      expect(bad.code).toBe(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('report --format email: a run file, or a clear message', async () => {
    const { cli, noStack } = await import('./cliHarness.js');
    const fixture = fileURLToPathCompat(new URL('../fixtures/dma-vs-truncate-6.1.run.json', import.meta.url));
    const ok = await cli(['report', fixture, '--format', 'email']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^Subject: \[BUG\] xfs DAX on 6\.1/m);
    expect(ok.out).toContain('filename="dma-vs-truncate.c"');
    const notJson = await cli(['report', new URL(import.meta.url).pathname, '--format', 'email']);
    expect(notJson.code).toBe(125);
    expect(notJson.err).toMatch(/is not a run's JSON/);
    noStack(notJson.err);
    const dir = await cli(['report', path.dirname(fixture), '--format', 'email']);
    expect(dir.code).toBe(125);
    expect(dir.err).toMatch(/is not a run's JSON/);
    noStack(dir.err);
  });
});

function fileURLToPathCompat(u: URL): string {
  return decodeURIComponent(u.pathname);
}
