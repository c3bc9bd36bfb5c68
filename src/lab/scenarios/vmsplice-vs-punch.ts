// A pipe holds a DAX page through vmsplice (an unbounded GUP reference) against a hole punch.
import type { ScenarioInput } from '../scenario.js';
import { BREAK_LAYOUTS_FRAME, DMA_VS_TRUNCATE, PUT_USER_PAGE } from './threads.js';

const J = DMA_VS_TRUNCATE.messageId!;

export const vmspliceVsPunch: ScenarioInput = {
  id: 'vmsplice-vs-punch',
  title: 'A pipe holds a DAX page; hole punch must wait for it',
  summary:
    'vmsplice puts a page of a DAX mapping into a pipe: a reference that lives as long as the data sits in the pipe, outside any page table. ' +
    'A hole punch of that page must wait for it. Part one punches while the page is mapped: unmapping does not let the punch through, draining the pipe does. ' +
    'Part two unmaps first and punches afterwards, with the pipe still holding the page: the 2017 rule (no block freed under a reference) says the punch must wait all the same.',
  threads: [DMA_VS_TRUNCATE, PUT_USER_PAGE],
  era: [
    'An idle fsdax page has refcount 1 before v6.15 and 0 from v6.15 (the agent calibrates the baseline).',
    'vmsplice takes plain references (FOLL_GET, iov_iter_get_pages2()): the refcount rises by 1 and no pin is counted, on every kernel the lab knows. Draining the pipe puts it back through put_page(), which wakes a waiting punch on every era.',
    'Before v6.15 (6.1, 6.12) dax_layout_busy_page_range() returns at once when !mapping_mapped(): a punch started after munmap does not look for busy pages and frees the block under the pipe. 7.2 dropped that shortcut; its busy test (dax_busy_page(): refcount minus mapcount) sees the pipe\'s reference whether the file is mapped or not.',
  ],
  needs: { fs: ['xfs', 'ext4'] },
  actors: [{ name: 'holder' }, { name: 'puncher' }],
  steps: [
    {
      id: 'open',
      actor: 'holder',
      do: { op: 'open', path: 'victim', create: true, size: '2M' },
      say: 'The holder creates a 2 MiB file on the DAX mount.',
      expect: [{ check: 'returns', ok: true, result: { dax: true }, says: 'the file is DAX (statx)' }],
    },
    { id: 'map', actor: 'holder', do: { op: 'mmap', length: '2M', flags: ['MAP_SHARED'] }, say: 'It maps the file shared.' },
    {
      id: 'fault',
      actor: 'holder',
      do: { op: 'touch', pages: [0, 1], write: true },
      watch: { pages: [0, 1], label: 'victim' },
      say: 'Stores fault pages 0 and 1 in (blocks allocated); the lab watches both.',
      expect: [{ check: 'page', page: 'victim#0', aboveIdle: 0 }],
    },
    { id: 'punch-open', actor: 'puncher', do: { op: 'open', path: 'victim' }, say: 'The puncher opens the same file.' },
    {
      id: 'splice',
      actor: 'holder',
      do: { op: 'vmsplice', pages: [0] },
      say:
        'vmsplice without SPLICE_F_GIFT: the pipe now holds a reference on page 0 that no page table knows about and that nothing bounds in time. ' +
        'It is a plain reference, not a pin: the distinction the 2018 put_user_page thread was about.',
      expect: [
        { check: 'returns', ok: true, ret: 4096 },
        { check: 'page', page: 'victim#0', rose: { by: 1 }, says: 'the pipe adds exactly one reference' },
        { check: 'page', page: 'victim#0', pins: 0, says: 'and no pin' },
      ],
    },
    {
      id: 'punch',
      actor: 'puncher',
      async: true,
      do: { op: 'fallocate', mode: 'punch', offset: 0, length: '4K' },
      say:
        'The puncher punches a hole over page 0. The block cannot go while the pipe may still read it: the filesystem unmaps the range, finds page 0 busy and sleeps ' +
        'in its break-layouts step with the mmap lock dropped.',
      cite: [J],
      expect: [
        { check: 'blocked', actor: 'puncher', in: BREAK_LAYOUTS_FRAME, within: '2s' },
        { check: 'lock', lock: 'victim:invalidate_lock', state: 'free', says: 'the mmap lock (invalidate_lock) is free while it sleeps' },
        { check: 'lock', lock: 'victim:i_rwsem', state: 'write', owner: 'puncher', says: 'the puncher keeps i_rwsem (write)' },
      ],
    },
    {
      id: 'unmap',
      actor: 'holder',
      do: { op: 'munmap' },
      say: 'The holder unmaps the file. The pipe\'s reference does not belong to the mapping, so it stays, and the puncher keeps waiting for it.',
      expect: [
        { check: 'still-blocked', actor: 'puncher', for: '1s', in: BREAK_LAYOUTS_FRAME },
        { check: 'page', page: 'victim#0', aboveIdle: 1, says: 'munmap did not release the pipe\'s reference' },
      ],
    },
    {
      id: 'drain',
      actor: 'holder',
      do: { op: 'drain' },
      say: 'The holder reads the pipe empty: the reference goes, the page is back at idle, and the puncher must be woken and finish.',
      expect: [
        { check: 'returns', ok: true, ret: 4096 },
        { check: 'finishes', actor: 'puncher', within: '1s', after: { pageIdle: 'victim#0' }, says: 'the puncher returns within 1 s after page 0 is back at its idle refcount' },
        { check: 'returns', step: 'punch', ok: true, says: 'the punch succeeds' },
      ],
    },
    { id: 'remap', actor: 'holder', do: { op: 'mmap', length: '2M', flags: ['MAP_SHARED'] }, say: 'Part two. The holder maps the file again.' },
    {
      id: 'refault',
      actor: 'holder',
      do: { op: 'touch', pages: [1], write: true },
      watch: { pages: [1], label: 'again' },
      say: 'It touches page 1 (still backed by its block) and the lab watches it.',
    },
    {
      id: 'splice-again',
      actor: 'holder',
      do: { op: 'vmsplice', pages: [1] },
      say: 'The pipe takes a reference on page 1.',
      expect: [{ check: 'page', page: 'again#1', rose: { by: 1 } }],
    },
    {
      id: 'unmap-first',
      actor: 'holder',
      do: { op: 'munmap' },
      say: 'This time the holder unmaps before anyone punches: the file has no mapping left, but the pipe still holds page 1.',
      expect: [{ check: 'page', page: 'again#1', aboveIdle: 1, says: 'the reference outlives the mapping' }],
    },
    {
      id: 'punch-unmapped',
      actor: 'puncher',
      async: true,
      do: { op: 'fallocate', mode: 'punch', offset: '4K', length: '4K' },
      say:
        'The puncher punches page 1 while the pipe holds it. By the rule of the 2017 thread the block must not be freed under that reference, mapped or not: ' +
        'the punch has to wait as it did in part one. Watch the busy-page scan in the events: whether it even looks at the page.',
      cite: [J],
      expect: [
        {
          check: 'still-blocked',
          actor: 'puncher',
          for: '1s',
          id: 'punch-waits-unmapped',
          says: 'the punch waits while the pipe still holds page 1 (1 s)',
        },
      ],
    },
    {
      id: 'drain-again',
      actor: 'holder',
      do: { op: 'drain' },
      say:
        'The holder drains the pipe. Whatever it returns now comes from a block the file no longer owns if the punch went through; the punch must be done within 1 s of the page going idle either way.',
      expect: [
        { check: 'returns', ok: true, ret: 4096 },
        { check: 'finishes', actor: 'puncher', within: '1s', after: { pageIdle: 'again#1' } },
        { check: 'returns', step: 'punch-unmapped', ok: true },
      ],
    },
  ],
};
