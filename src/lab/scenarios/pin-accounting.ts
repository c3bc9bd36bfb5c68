// Every way of taking a reference the lab knows, on every kind of memory: the deltas each
// causes on the running kernel. The table the 2018 put_user_page thread was arguing about.
import type { PredicateInput, ScenarioInput, StepInput } from '../scenario.js';
import { PUT_USER_PAGE } from './threads.js';

const MEMORY = ['fsdax', 'anon', 'pagecache', 'devdax'] as const;
const REFS = ['vmsplice', 'odirect', 'io_uring', 'rdma'] as const;
type Memory = (typeof MEMORY)[number];
type Ref = (typeof REFS)[number];

const needs: Record<Memory, Array<'devdax' | 'rdma' | 'nullBlk'>> = { fsdax: [], anon: [], pagecache: [], devdax: ['devdax'] };

function setup(m: Memory): StepInput[] {
  const when = needs[m].length ? { when: { available: needs[m] } } : {};
  const open: Record<Memory, StepInput['do'] | null> = {
    fsdax: { op: 'open', path: 'accounted', create: true, size: '64K' },
    anon: null,
    pagecache: { op: 'open', path: '$tmp/accounted', create: true, size: '64K' },
    devdax: { op: 'open', path: '$devdax' },
  };
  const what: Record<Memory, string> = {
    fsdax: 'a page of a file on the DAX mount (fsdax, ZONE_DEVICE)',
    anon: 'a page of private anonymous memory',
    pagecache: 'a page of a tmpfs file (page cache)',
    devdax: 'a page of the device-dax namespace (ZONE_DEVICE, 2 MiB folios)',
  };
  const length = m === 'devdax' ? '2M' : '64K';
  return [
    ...(open[m] ? [{ id: `${m}-open`, actor: m, do: open[m], say: `Memory kind "${m}": ${what[m]}.`, ...when } satisfies StepInput] : []),
    {
      id: `${m}-map`,
      actor: m,
      do: open[m] ? { op: 'mmap', length, flags: ['MAP_SHARED'] } : { op: 'mmap', length, flags: ['MAP_PRIVATE'], anonymous: true },
      say: open[m] ? `The ${m} actor maps it.` : `Memory kind "${m}": ${what[m]}.`,
      ...when,
    },
    { id: `${m}-fault`, actor: m, do: { op: 'touch', pages: [0], write: true }, watch: { pages: [0], label: m }, say: `Page 0 of ${m} faulted in and watched.`, ...when },
  ];
}

const takeOp: Record<Ref, StepInput['do']> = {
  vmsplice: { op: 'vmsplice', pages: [0] },
  odirect: { op: 'odirect', device: '$nullb', pages: [0], write: false },
  io_uring: { op: 'io_uring_register', pages: [0] },
  rdma: { op: 'rdma_reg_mr', pages: [0] },
};
const releaseOp: Record<Ref, StepInput['do'] | null> = {
  vmsplice: { op: 'drain' },
  odirect: null, // the I/O's completion releases it
  io_uring: { op: 'io_uring_unregister' },
  rdma: { op: 'rdma_dereg_mr' },
};
const refSay: Record<Ref, string> = {
  vmsplice: 'vmsplice into a pipe: a plain reference (FOLL_GET) held by the pipe buffer',
  odirect: 'an O_DIRECT read from the slow null_blk into the page: the block layer\'s reference for the I/O',
  io_uring: 'an io_uring fixed buffer: FOLL_PIN | FOLL_LONGTERM',
  rdma: 'an RDMA memory registration (ibv_reg_mr on soft-RoCE): FOLL_PIN | FOLL_LONGTERM through GUP',
};

/** Expectations only where the rule is settled across the kernels the lab knows; the table shows the rest. */
function takeExpect(r: Ref, m: Memory): PredicateInput[] {
  const page = `${m}#0`;
  switch (r) {
    case 'vmsplice':
      return [
        { check: 'returns', ok: true },
        { check: 'page', page, rose: { by: 1 }, says: `${page}: one more reference` },
        { check: 'page', page, pinsRose: { by: 0 }, says: `${page}: not a pin` },
        { check: 'vmstat', counter: 'nr_foll_pin_acquired', rose: { by: 0 }, says: 'no pin counted in nr_foll_pin_acquired' },
      ];
    case 'odirect':
      return [{ check: 'page', page, rose: { by: [1, 'pin-bias'] }, says: `${page}: the I/O holds one reference (FOLL_GET) or one pin (FOLL_PIN), whichever this kernel\'s block layer takes` }];
    case 'io_uring':
      if (m === 'fsdax') return [{ check: 'returns', errno: 'EOPNOTSUPP', says: 'refused with EOPNOTSUPP (GUP: no long-term pin of fsdax)' }];
      if (m === 'anon')
        return [
          { check: 'returns', ok: true },
          { check: 'page', page, rose: { by: 'pin-bias' }, says: `${page}: the pin bias` },
          { check: 'vmstat', counter: 'nr_foll_pin_acquired', less: 'nr_foll_pin_released', rose: { by: 1 }, says: 'one pin more held: nr_foll_pin_acquired less _released +1 (GUP-fast may take and give back one on its way to the slow path)' },
        ];
      return [];
    case 'rdma':
      if (m === 'fsdax') return [{ check: 'returns', errno: 'EOPNOTSUPP', says: 'GUP refuses a long-term pin of an fsdax page' }];
      if (m === 'devdax')
        return [
          { check: 'returns', ok: true },
          { check: 'page', page, pinsRose: { by: 1 }, says: `${page}: one pin in the large folio's _pincount` },
          { check: 'page', page, rose: { by: 1 }, says: `${page}: one reference for the one page` },
          { check: 'vmstat', counter: 'nr_foll_pin_acquired', less: 'nr_foll_pin_released', rose: { by: 1 }, says: 'one pin more held: nr_foll_pin_acquired less _released +1 (GUP-fast may take and give back one on its way to the slow path)' },
        ];
      return [
        { check: 'returns', ok: true },
        { check: 'page', page, rose: { by: 'pin-bias' }, says: `${page}: the pin bias` },
        { check: 'vmstat', counter: 'nr_foll_pin_acquired', less: 'nr_foll_pin_released', rose: { by: 1 }, says: 'one pin more held: nr_foll_pin_acquired less _released +1 (GUP-fast may take and give back one on its way to the slow path)' },
      ];
  }
}

function cell(r: Ref, m: Memory): StepInput[] {
  const available = [...needs[m], ...(r === 'rdma' ? (['rdma'] as const) : []), ...(r === 'odirect' ? (['nullBlk'] as const) : [])];
  const when = available.length ? { available } : undefined;
  const take = `${r.replace('_', '-')}-${m}`;
  const page = `${m}#0`;
  const steps: StepInput[] = [
    {
      id: take,
      actor: m,
      do: takeOp[r],
      ...(r === 'odirect' ? { async: true, waitFor: { until: { check: 'page', page, aboveIdle: { min: 1 } }, timeout: '3s' } } : {}),
      ...(when ? { when } : {}),
      record: { table: 'pins', row: r, column: m, page, phase: 'take' },
      say: `${r} × ${m}: ${refSay[r]}.`,
      expect: takeExpect(r, m),
    },
  ];
  const release: StepInput = {
    id: `${take}-release`,
    when: { ...(when ?? {}), succeeded: take },
    record: { table: 'pins', row: r, column: m, page, phase: 'release' },
    say: r === 'odirect' ? 'The I/O completes and its reference goes.' : `Release: ${releaseOp[r]!.op}.`,
    expect: [{ check: 'page', page, rose: { by: 0, since: take }, says: `${page} is back where it was before the ${r} reference` }],
    ...(r === 'odirect'
      ? { waitFor: { until: { check: 'returns', step: take, ok: true }, timeout: '10s' } }
      : { actor: m, do: releaseOp[r]! }),
  };
  if (r === 'odirect') {
    // An O_DIRECT step's action is the I/O: it can only "succeed" once it returned.
    delete (release.when as { succeeded?: string }).succeeded;
  }
  steps.push(release);
  return steps;
}

export const pinAccounting: ScenarioInput = {
  id: 'pin-accounting',
  title: 'Pin accounting: refcount and pin deltas per reference kind and memory kind',
  summary:
    'Takes every kind of reference the lab can make (vmsplice, O_DIRECT, io_uring fixed buffers, RDMA registration) on every kind of memory it can map ' +
    '(fsdax, anonymous, tmpfs page cache, device-dax) and records what each does to the page on the running kernel: the refcount, the pins, ' +
    'nr_foll_pin_acquired/released, and whether the release puts everything back. A plain reference and a pin look the same in a refcount unless they are counted apart: ' +
    'that is what the 2018 thread set out to fix, and the table shows how this kernel tells them apart.',
  threads: [PUT_USER_PAGE],
  era: [
    'FOLL_PIN adds GUP_PIN_COUNTING_BIAS (1024) to a small folio\'s refcount; on a large folio it adds one reference per page and counts in _pincount (v5.7 / v5.8 on).',
    'Block O_DIRECT takes FOLL_GET references on 6.1 and FOLL_PIN pins on 6.12 and 7.2; vmsplice takes FOLL_GET references everywhere.',
    'io_uring fixed buffers on device-dax: refused by io_uring itself on 6.1 (after GUP pinned and it unpinned), accepted on 6.12 and 7.2; fsdax is refused by GUP on all three. The table shows what this kernel did.',
    'fsdax pages idle at refcount 1 before v6.15 and 0 from v6.15 (where each mapping also holds a reference); anonymous and page-cache pages also carry one reference per mapping and, while fresh, one for a per-CPU LRU batch (the observer counts that apart).',
    'nr_foll_pin_* are read after vm.stat_refresh (per-CPU deltas folded).',
  ],
  needs: { rdma: 'optional', devdax: 'optional', nullBlk: { completion: '2s' } },
  actors: MEMORY.map((m) => ({ name: m, program: 'verbs' as const })),
  steps: [...MEMORY.flatMap(setup), ...REFS.flatMap((r) => MEMORY.flatMap((m) => cell(r, m)))],
};
