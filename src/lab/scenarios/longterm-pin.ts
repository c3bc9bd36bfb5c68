// Long-term pins (io_uring fixed buffers, RDMA memory registration) on fsdax versus other memory.
import type { ScenarioInput, StepInput } from '../scenario.js';
import { DMA_VS_TRUNCATE, PUT_USER_PAGE } from './threads.js';

const J = DMA_VS_TRUNCATE.messageId!;

/** Map one page of a kind of memory in its own actor and watch it. */
function memory(actor: string, open: StepInput['do'] | null, length: string, say: string, when?: StepInput['when']): StepInput[] {
  return [
    ...(open ? [{ id: `${actor}-open`, actor, do: open, say, ...(when ? { when } : {}) } satisfies StepInput] : []),
    {
      id: `${actor}-map`,
      actor,
      do: open ? { op: 'mmap', length, flags: ['MAP_SHARED'] } : { op: 'mmap', length, flags: ['MAP_PRIVATE'], anonymous: true },
      say: open ? `The ${actor} actor maps it shared.` : say,
      ...(when ? { when } : {}),
    },
    {
      id: `${actor}-fault`,
      actor,
      do: { op: 'touch', pages: [0], write: true },
      watch: { pages: [0], label: actor },
      say: `A store faults page 0 of the ${actor} mapping in; the lab watches it.`,
      ...(when ? { when } : {}),
    },
  ];
}

const rdma: StepInput['when'] = { available: ['rdma'] };
const rdmaDevdax: StepInput['when'] = { available: ['rdma', 'devdax'] };

export const longtermPin: ScenarioInput = {
  id: 'longterm-pin',
  title: 'Long-term pins: io_uring fixed buffers and RDMA registration on fsdax and elsewhere',
  summary:
    'RDMA memory registrations and io_uring fixed buffers pin pages for as long as the application likes: FOLL_PIN | FOLL_LONGTERM. ' +
    'A filesystem cannot wait that out when it wants to truncate or punch a DAX file, so long-term pins of fsdax pages are refused, ' +
    'while anonymous memory, page cache (tmpfs) and device-dax memory take them. Each accepted pin shows as the pin bias on a small folio ' +
    '(or in _pincount on a large one) and in the nr_foll_pin_* counters. RDMA goes through soft-RoCE (rdma_rxe on a dummy netdev).',
  threads: [DMA_VS_TRUNCATE, PUT_USER_PAGE],
  era: [
    'FOLL_PIN adds GUP_PIN_COUNTING_BIAS (1024) to a small folio\'s refcount and 1 to a large folio\'s _pincount (plus one reference per page), since v5.7 / v5.8.',
    'GUP refuses FOLL_LONGTERM on fsdax mappings with EOPNOTSUPP on every kernel the lab knows: check_vma_flags() (vma_is_fsdax()); GUP-fast hands the request there (pte_devmap() before v6.15, folio_is_longterm_pinnable() after). A registration cannot be told to give the page back.',
    'io_uring decides on its own before v6.3 or so: 6.1\'s io_pin_pages() (io_uring/rsrc.c) pins through GUP and then refuses any file-backed mapping but shmem and hugetlbfs, device-dax included, and unpins. 6.12\'s and 7.2\'s io_pin_pages() (io_uring/memmap.c) accept whatever pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM) accepts, device-dax included. The scenario reads the answer from the kernel and releases what it was given.',
    'RDMA registration (ib_umem_get()) goes straight through pin_user_pages_fast() with FOLL_LONGTERM: its EOPNOTSUPP on fsdax is GUP\'s rule.',
    'Device-dax pages are 2 MiB folios: one pin shows in _pincount, with one reference for the page.',
    'nr_foll_pin_acquired / _released are folded from per-CPU deltas lazily; the lab reads them after vm.stat_refresh. A pin held is acquired less released: 7.2\'s GUP-fast pins a device-dax folio, finds in gup_fast_folio_allowed() that a writable long-term pin of a file-backed folio must go the slow way, unpins it (gup_put_folio()) and the slow path pins it again: +2 acquired, +1 released for one pin.',
    'Device-dax pages stay 1-based on 7.2 (MEMORY_DEVICE_GENERIC) while fsdax pages idle at 0; the device-dax releases are checked against the page as it was before the take, not against a baseline.',
  ],
  needs: { rdma: 'optional', devdax: 'optional' },
  actors: [
    { name: 'fsdax', program: 'verbs' },
    { name: 'anon', program: 'verbs' },
    { name: 'pagecache', program: 'verbs' },
    { name: 'devdax', program: 'verbs' },
  ],
  steps: [
    ...memory('fsdax', { op: 'open', path: 'pinned', create: true, size: '64K' }, '64K', 'The fsdax actor creates a 64 KiB file on the DAX mount.'),
    ...memory('anon', null, '64K', 'The anon actor maps 64 KiB of private anonymous memory.'),
    ...memory('pagecache', { op: 'open', path: '$tmp/pinned', create: true, size: '64K' }, '64K', 'The pagecache actor creates a 64 KiB file on tmpfs (page cache, not DAX).'),
    ...memory('devdax', { op: 'open', path: '$devdax' }, '2M', 'The devdax actor opens the device-dax character device (2 MiB alignment).', { available: ['devdax'] }),

    {
      id: 'uring-fsdax',
      actor: 'fsdax',
      do: { op: 'io_uring_register', pages: [0] },
      say: 'io_uring fixed buffer on the fsdax page: refused. GUP refuses it before io_uring looks: check_vma_flags() turns FOLL_LONGTERM on an fsdax vma into EOPNOTSUPP.',
      expect: [
        { check: 'returns', errno: 'EOPNOTSUPP', says: 'refused with EOPNOTSUPP (GUP: no long-term pin of fsdax)' },
        { check: 'page', page: 'fsdax#0', aboveIdle: 0, says: 'the refused registration leaves no reference behind' },
      ],
    },
    {
      id: 'uring-anon',
      actor: 'anon',
      do: { op: 'io_uring_register', pages: [0] },
      say: 'io_uring fixed buffer on the anonymous page: accepted, as a long-term pin.',
      expect: [
        { check: 'returns', ok: true },
        { check: 'page', page: 'anon#0', rose: { by: 'pin-bias' }, says: 'the refcount rose by the pin bias' },
        { check: 'page', page: 'anon#0', pinsRose: { by: 1 }, says: 'one pin' },
        { check: 'vmstat', counter: 'nr_foll_pin_acquired', less: 'nr_foll_pin_released', rose: { by: 1 }, says: 'one pin more held: nr_foll_pin_acquired less _released +1 (GUP-fast may take and give back one on its way to the slow path)' },
      ],
    },
    {
      id: 'unring-anon',
      actor: 'anon',
      do: { op: 'io_uring_unregister' },
      say: 'Unregistering the buffer unpins the page.',
      expect: [
        { check: 'page', page: 'anon#0', aboveIdle: 0, pins: 0 },
        { check: 'vmstat', counter: 'nr_foll_pin_released', rose: { by: 1 } },
      ],
    },
    {
      id: 'uring-devdax',
      actor: 'devdax',
      when: { available: ['devdax'] },
      do: { op: 'io_uring_register', pages: [0] },
      say:
        'io_uring fixed buffer on the device-dax page. GUP allows a long-term pin there (no filesystem will ask for the block back); whether io_uring takes it is its own rule: ' +
        '6.1 refuses every file-backed mapping but shmem and hugetlbfs, later kernels accept what GUP accepts. The lab reports what this kernel answered and checks that the answer is consistent.',
      expect: [
        {
          check: 'page',
          page: 'devdax#0',
          when: { succeeded: 'uring-devdax' },
          pinsRose: { by: 1 },
          id: 'uring-devdax-pinned',
          says: 'accepted: one pin in the 2 MiB folio\'s _pincount',
        },
        { check: 'page', page: 'devdax#0', when: { succeeded: 'uring-devdax' }, rose: { by: 1 }, says: 'accepted: one reference for the one page pinned' },
        { check: 'vmstat', counter: 'nr_foll_pin_acquired', less: 'nr_foll_pin_released', when: { succeeded: 'uring-devdax' }, rose: { by: 1 }, says: 'accepted: one pin more held (nr_foll_pin_acquired less _released +1)' },
        {
          check: 'page',
          page: 'devdax#0',
          when: { failed: 'uring-devdax' },
          rose: { by: 0 },
          pins: 0,
          id: 'uring-devdax-refused-clean',
          says: 'refused: io_uring gave back whatever GUP had pinned (no reference, no pin left)',
        },
      ],
    },
    {
      id: 'unring-devdax',
      actor: 'devdax',
      when: { available: ['devdax'], succeeded: 'uring-devdax' },
      do: { op: 'io_uring_unregister' },
      say: 'This kernel accepted the device-dax buffer: unregistering it unpins the page (a scenario gives back everything it took).',
      expect: [
        { check: 'page', page: 'devdax#0', rose: { by: 0, since: 'uring-devdax' }, pins: 0, says: 'devdax#0 has the references it had before the registration, and no pin' },
        { check: 'vmstat', counter: 'nr_foll_pin_released', rose: { by: 1 } },
      ],
    },
    {
      id: 'mr-fsdax',
      actor: 'fsdax',
      when: rdma,
      do: { op: 'rdma_reg_mr', pages: [0] },
      say:
        'ibv_reg_mr on the fsdax page: the registration pins through GUP with FOLL_LONGTERM, and GUP refuses fsdax because nothing could make the adapter give the page back when the filesystem needs the block.',
      cite: [J],
      expect: [
        { check: 'returns', errno: 'EOPNOTSUPP', says: 'refused with EOPNOTSUPP (GUP: no long-term pin of fsdax)' },
        { check: 'page', page: 'fsdax#0', aboveIdle: 0, says: 'the refused registration leaves no reference behind' },
      ],
    },
    {
      id: 'mr-anon',
      actor: 'anon',
      when: rdma,
      do: { op: 'rdma_reg_mr', pages: [0] },
      say: 'ibv_reg_mr on the anonymous page: accepted.',
      expect: [
        { check: 'returns', ok: true },
        { check: 'page', page: 'anon#0', rose: { by: 'pin-bias' } },
        { check: 'vmstat', counter: 'nr_foll_pin_acquired', less: 'nr_foll_pin_released', rose: { by: 1 }, says: 'one pin more held: nr_foll_pin_acquired less _released +1 (GUP-fast may take and give back one on its way to the slow path)' },
      ],
    },
    {
      id: 'dereg-anon',
      actor: 'anon',
      when: rdma,
      do: { op: 'rdma_dereg_mr' },
      say: 'Deregistering unpins it.',
      expect: [
        { check: 'page', page: 'anon#0', aboveIdle: 0, pins: 0 },
        { check: 'vmstat', counter: 'nr_foll_pin_released', rose: { by: 1 } },
      ],
    },
    {
      id: 'mr-pagecache',
      actor: 'pagecache',
      when: rdma,
      do: { op: 'rdma_reg_mr', pages: [0] },
      say: 'ibv_reg_mr on the tmpfs page: accepted (page-cache pages can be migrated out of the way and handed back; they are not fsdax).',
      expect: [
        { check: 'returns', ok: true },
        { check: 'page', page: 'pagecache#0', rose: { by: 'pin-bias' } },
        { check: 'vmstat', counter: 'nr_foll_pin_acquired', less: 'nr_foll_pin_released', rose: { by: 1 }, says: 'one pin more held: nr_foll_pin_acquired less _released +1 (GUP-fast may take and give back one on its way to the slow path)' },
      ],
    },
    { id: 'dereg-pagecache', actor: 'pagecache', when: rdma, do: { op: 'rdma_dereg_mr' }, say: 'Deregistered.', expect: [{ check: 'page', page: 'pagecache#0', aboveIdle: 0, pins: 0 }] },
    {
      id: 'mr-devdax',
      actor: 'devdax',
      when: rdmaDevdax,
      do: { op: 'rdma_reg_mr', pages: [0] },
      say: 'ibv_reg_mr on the device-dax page: accepted; no filesystem will ever ask for this block back. The page is part of a 2 MiB folio, so the pin is counted in _pincount.',
      expect: [
        { check: 'returns', ok: true },
        { check: 'page', page: 'devdax#0', pinsRose: { by: 1 }, says: 'one pin, in the large folio\'s _pincount' },
        { check: 'page', page: 'devdax#0', rose: { by: 1 }, says: 'and one reference for the one page pinned' },
        { check: 'vmstat', counter: 'nr_foll_pin_acquired', less: 'nr_foll_pin_released', rose: { by: 1 }, says: 'one pin more held: nr_foll_pin_acquired less _released +1 (GUP-fast may take and give back one on its way to the slow path)' },
      ],
    },
    {
      id: 'dereg-devdax',
      actor: 'devdax',
      when: rdmaDevdax,
      do: { op: 'rdma_dereg_mr' },
      say: 'Deregistered.',
      expect: [
        { check: 'page', page: 'devdax#0', rose: { by: 0, since: 'mr-devdax' }, pins: 0, says: 'devdax#0 has the references it had before the registration, and no pin' },
        { check: 'vmstat', counter: 'nr_foll_pin_released', rose: { by: 1 } },
      ],
    },
  ],
};
