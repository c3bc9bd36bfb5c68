// O_DIRECT from a slow block device into a DAX mapping while another task truncates the file.
import type { ScenarioInput } from '../scenario.js';
import { BREAK_LAYOUTS_FRAME, DMA_VS_TRUNCATE, MISSING_WAKEUP } from './threads.js';

const J = DMA_VS_TRUNCATE.messageId!;
const W = MISSING_WAKEUP.messageId!;

export const dmaVsTruncate: ScenarioInput = {
  id: 'dma-vs-truncate',
  title: 'O_DIRECT into a DAX page while the file is truncated',
  summary:
    'A read from a slow null_blk device lands, through O_DIRECT, in a page of a DAX file; meanwhile a second task truncates the file. ' +
    'The filesystem must not free the block while the I/O still references it: truncate has to sleep in its break-layouts step, ' +
    'with the mmap lock dropped, and has to be woken the moment the reference goes.',
  threads: [DMA_VS_TRUNCATE, MISSING_WAKEUP],
  era: [
    'An idle fsdax page has refcount 1 before v6.15 and 0 from v6.15 (where a mapping also holds a reference and a mapcount); "back at idle" is measured against the baseline the agent calibrates on the running kernel, never a constant.',
    'Block O_DIRECT takes a plain reference (FOLL_GET: +1) on 6.1 and a FOLL_PIN pin (+1024 on a small folio) on 6.12 and 7.2; either one counts as the I/O holding the page, and the report says which this kernel took.',
    'Who wakes the truncater when the I/O lets go: on 6.12 gup_put_folio() -> __put_devmap_managed_folio_refs() at the 1025 -> 1 transition; on 7.2 free_zone_device_folio() when the folio reaches 0. On 6.1 the block layer drops its reference in __bio_release_pages() with folio_put_refs(), which skips put_devmap_managed_page_refs() and so never wakes it: the class of bug of the 2022 thread, in another caller.',
    'Where the truncater sleeps: xfs_break_dax_layouts() / ext4_break_layouts() before v6.15, dax_break_layout() (wait_page_idle()) after.',
  ],
  needs: { nullBlk: { completion: '2s' } },
  actors: [{ name: 'dma' }, { name: 'truncator' }],
  steps: [
    {
      id: 'open',
      actor: 'dma',
      do: { op: 'open', path: 'victim', create: true, size: '64K' },
      say: 'The I/O actor creates a 64 KiB file on the DAX mount.',
      expect: [{ check: 'returns', ok: true, result: { dax: true }, says: 'the file is DAX (statx STATX_ATTR_DAX)' }],
    },
    {
      id: 'map',
      actor: 'dma',
      do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED'] },
      say: 'It maps the file shared: its pages are the persistent-memory pages themselves, no page cache in between.',
    },
    {
      id: 'fault',
      actor: 'dma',
      do: { op: 'touch', pages: [0], write: true },
      watch: { pages: [0], label: 'victim' },
      say: 'A store faults page 0 in, which allocates its block; the lab watches that page from here on (refcount, pins, DAX entry, the file\'s locks).',
      expect: [{ check: 'page', page: 'victim#0', aboveIdle: 0, says: 'page 0 sits at its idle refcount: mapped, referenced by nobody' }],
    },
    {
      id: 'dio',
      actor: 'dma',
      async: true,
      do: { op: 'odirect', device: '$nullb', pages: [0], write: false },
      say:
        'The actor reads one block from the slow null_blk with O_DIRECT into page 0. The block layer takes its reference on the DAX page when it builds the bio ' +
        'and drops it when the I/O completes, about two seconds later: the stand-in for a device that DMAs into persistent memory.',
      cite: [J],
      waitFor: { until: { check: 'page', page: 'victim#0', aboveIdle: { min: 1 } }, timeout: '3s' },
      expect: [
        {
          check: 'page',
          page: 'victim#0',
          rose: { by: [1, 'pin-bias'] },
          says: 'the in-flight I/O holds the page: one reference (FOLL_GET) or one pin (FOLL_PIN), whichever this kernel\'s block layer takes',
        },
      ],
    },
    {
      id: 'truncate',
      actor: 'truncator',
      async: true,
      do: { op: 'truncate', path: 'victim', size: 0 },
      say:
        'A second task truncates the file to 0 while the read is in flight. Freeing the block now would let the device write into storage that may already belong to someone else, ' +
        'so the filesystem unmaps the range, finds the busy page and sleeps until its refcount is back at idle. ' +
        'Watch the truncator\'s stack (xfs_break_dax_layouts or ext4_break_layouts before v6.15, dax_break_layout after) and the locks: it keeps i_rwsem but must not sleep holding the mmap lock, ' +
        'because a task in get_user_pages holding one page and faulting the next would wait for that lock forever.',
      cite: [J],
      expect: [
        { check: 'blocked', actor: 'truncator', in: BREAK_LAYOUTS_FRAME, within: '2s', says: 'the truncator sleeps in the filesystem\'s break-layouts step' },
        { check: 'lock', lock: 'victim:invalidate_lock', state: 'free', says: 'the mmap lock (invalidate_lock) is free while it sleeps' },
        { check: 'lock', lock: 'victim:i_rwsem', state: 'write', owner: 'truncator', says: 'the truncator keeps i_rwsem (write) while it sleeps' },
        {
          check: 'event',
          name: '^dax_layout_busy_page_range__return$',
          where: { page: '~^0x[0-9a-f]*[1-9a-f][0-9a-f]*$' },
          within: '1s',
          says: 'the kernel\'s own busy-page scan returned the page (kretprobe on dax_layout_busy_page_range, with the refcount it read)',
        },
      ],
    },
    {
      id: 'io-done',
      say: 'The device completes the read; the block layer releases its reference on page 0.',
      expect: [
        { check: 'returns', step: 'dio', ok: true, ret: 4096, says: 'the O_DIRECT read returns its 4096 bytes' },
        { check: 'page', page: 'victim#0', aboveIdle: 0, says: 'page 0 is back at its idle refcount' },
      ],
    },
    {
      id: 'wake',
      say:
        'Nothing references the page any more, so the truncator must wake up, find no busy page and finish. This is the wake-up check of the 2022 thread: ' +
        'a put that brings an fsdax page back to idle without waking the waiter leaves truncate asleep for good.',
      cite: [W],
      expect: [
        {
          check: 'finishes',
          actor: 'truncator',
          within: '2s',
          after: { pageIdle: 'victim#0' },
          id: 'truncate-woken',
          says: 'the truncator returns within 2 s after page 0 is back at its idle refcount',
        },
      ],
    },
    {
      id: 'nudge',
      when: { busy: 'truncator' },
      kill: { actor: 'truncator', signal: 'SIGUSR1' },
      say:
        'Diagnosis (only if it is still asleep): a signal makes the sleeping truncator look at the refcount again; the actor catches it and the syscall restarts. ' +
        'If truncate then finishes at once, the reference was gone all along and only the wake-up was missing.',
      expect: [
        { check: 'finishes', actor: 'truncator', within: '2s', after: { step: 'nudge' }, says: 'after the signal the truncator returns within 2 s' },
        { check: 'returns', step: 'truncate', ok: true, says: 'the truncate itself succeeds' },
      ],
    },
  ],
};
