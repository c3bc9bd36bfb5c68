// MAP_SYNC: accepted on a DAX file, refused where the kernel cannot keep its promise.
import type { ScenarioInput } from '../scenario.js';
import { MAP_DIRECT } from './threads.js';

export const mapSync: ScenarioInput = {
  id: 'map-sync',
  title: 'MAP_SYNC is accepted on a DAX file and refused on a non-DAX one',
  summary:
    'MAP_SYNC promises that once a write fault returns, the block map behind the page is durable, so an application may flush CPU caches instead of calling fsync. ' +
    'Only a DAX file can keep that promise; with MAP_SHARED_VALIDATE the kernel refuses the flag where it cannot. ' +
    'With plain MAP_SHARED unknown flags are ignored, which is why MAP_SHARED_VALIDATE exists.',
  threads: [MAP_DIRECT],
  era: [
    'MAP_SYNC and MAP_SHARED_VALIDATE are in mainline since v4.15; MAP_SYNC took the value 0x80000 that the MAP_DIRECT proposal had used.',
    'smaps shows an accepted MAP_SYNC as the "sf" VmFlag (VM_SYNC); only DAX fault handlers act on VM_SYNC.',
  ],
  needs: { fs: ['xfs', 'ext4'] },
  actors: [{ name: 'mapper' }],
  steps: [
    {
      id: 'dax-open',
      actor: 'mapper',
      do: { op: 'open', path: 'synced', create: true, size: '64K' },
      say: 'A 64 KiB file on the DAX mount.',
      expect: [{ check: 'returns', ok: true, result: { dax: true }, says: 'the file is DAX (statx)' }],
    },
    {
      id: 'dax-sync',
      actor: 'mapper',
      do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] },
      say: 'MAP_SHARED_VALIDATE | MAP_SYNC on the DAX file: the filesystem can promise synchronous faults, so the kernel accepts.',
      expect: [{ check: 'returns', ok: true }],
    },
    {
      id: 'dax-fault',
      actor: 'mapper',
      do: { op: 'touch', pages: [0], write: true },
      watch: { pages: [0], label: 'synced' },
      say: 'A store through the MAP_SYNC mapping faults the page in (the fault made the allocation durable before returning).',
      expect: [{ check: 'page', page: 'synced#0', aboveIdle: 0 }],
    },
    {
      id: 'proposal-flag',
      actor: 'mapper',
      do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED_VALIDATE', '0x80000'] },
      say: 'The same with the raw value 0x80000 (MAP_DIRECT\'s value in the 2017 proposal): it is MAP_SYNC to this kernel.',
      expect: [{ check: 'returns', ok: true }],
    },
    {
      id: 'tmp-open',
      actor: 'mapper',
      do: { op: 'open', path: '$tmp/plain', create: true, size: '64K' },
      say: 'A 64 KiB file on tmpfs: page cache, not DAX.',
      expect: [{ check: 'returns', ok: true, result: { dax: false }, says: 'the file is not DAX (statx)' }],
    },
    {
      id: 'tmp-sync',
      actor: 'mapper',
      do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] },
      say: 'MAP_SHARED_VALIDATE | MAP_SYNC on the tmpfs file: the kernel cannot promise synchronous faults there and says so.',
      expect: [{ check: 'returns', errno: 'EOPNOTSUPP' }],
    },
    {
      id: 'tmp-legacy',
      actor: 'mapper',
      do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED', 'MAP_SYNC'] },
      say:
        'MAP_SHARED | MAP_SYNC on the same file: plain MAP_SHARED does not validate its flags, so the call succeeds whatever the file can do. ' +
        'Nothing makes tmpfs faults synchronous; on 6.1 smaps still shows the VMA with VM_SYNC ("sf"), because the flag is turned into vm_flags before the unvalidated bits are dropped.',
      expect: [{ check: 'returns', ok: true }],
    },
    {
      id: 'anon-sync',
      actor: 'mapper',
      do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'], anonymous: true },
      say: 'MAP_SHARED_VALIDATE | MAP_SYNC on anonymous memory: refused too.',
      expect: [{ check: 'returns', errno: ['EINVAL', 'EOPNOTSUPP'], says: 'refused (which errno: as this kernel reports it)' }],
    },
  ],
};
