// The MAP_DIRECT proposal, emulated with a MAP_SYNC mapping and a file lease.
import type { ScenarioInput } from '../scenario.js';
import { MAP_DIRECT } from './threads.js';

const D = MAP_DIRECT.messageId!;

export const mapDirectLease: ScenarioInput = {
  id: 'map-direct-lease',
  title: 'MAP_DIRECT emulated: a MAP_SYNC mapping guarded by a file lease',
  summary:
    'The MAP_DIRECT proposal (2017, never merged) tied a DAX mapping to a lease: anyone about to change the file\'s block map would break the lease, ' +
    'the holder would be told and get fs.lease-break-time to tear its mapping down, after which the mapping would SIGBUS. ' +
    'Mainline has the pieces: MAP_SYNC and write leases. A cooperative holder lets a truncate through as soon as it unmaps and unlocks; ' +
    'a stubborn one is timed out. What the emulation cannot do is revoke the mapping. The proposal\'s flag value is tried as well.',
  threads: [MAP_DIRECT],
  era: [
    'Lease breaks: truncate(2) and any conflicting open(2) break a write lease (break_lease); fallocate and write go through an fd whose open already broke it. xfs_break_layouts() itself breaks only layout leases (pNFS).',
    'fs.lease-break-time is a guest sysctl (the shipped profiles set 5 s); the timings here are computed from the value the guest reports.',
    'MAP_DIRECT was proposed as 0x80000; mainline later gave that bit to MAP_SYNC, so a kernel that knows MAP_SYNC reads the proposal\'s flag as MAP_SYNC.',
  ],
  needs: { fs: ['xfs', 'ext4'] },
  actors: [{ name: 'holder' }, { name: 'breaker' }],
  steps: [
    {
      id: 'open',
      actor: 'holder',
      do: { op: 'open', path: 'leased', create: true, size: '64K' },
      say: 'The holder creates a 64 KiB file on the DAX mount.',
      expect: [{ check: 'returns', ok: true, result: { dax: true } }],
    },
    {
      id: 'map',
      actor: 'holder',
      do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] },
      say: 'It maps the file with MAP_SHARED_VALIDATE | MAP_SYNC: page faults make the block map durable, so stores through the mapping need no fsync.',
      expect: [{ check: 'returns', ok: true }],
    },
    { id: 'fault', actor: 'holder', do: { op: 'touch', pages: [0], write: true }, watch: { pages: [0], label: 'leased' }, say: 'A store faults page 0 in; the lab watches the file.' },
    {
      id: 'lease',
      actor: 'holder',
      do: { op: 'lease', type: 'write', signal: 'SIGRTMIN+1' },
      say: 'The holder takes a write lease with F_SETLEASE and asks for SIGRTMIN+1 (F_SETSIG) when it breaks: the MAP_DIRECT lease, by hand.',
      cite: [D],
      expect: [
        { check: 'returns', ok: true },
        { check: 'lease', file: 'leased', state: 'ACTIVE', says: '/proc/locks shows the lease ACTIVE' },
      ],
    },
    {
      id: 'truncate',
      actor: 'breaker',
      async: true,
      do: { op: 'truncate', path: 'leased', size: 0 },
      say: 'Another task truncates the file. The kernel breaks the lease: the holder is signalled and the breaker sleeps in __break_lease until the holder gives up its lease.',
      cite: [D],
      expect: [
        { check: 'signal', actor: 'holder', signal: 'SIGRTMIN+1', within: '1s', says: 'the holder gets SIGRTMIN+1 at once' },
        { check: 'lease', file: 'leased', state: 'BREAKING', within: '1s', says: '/proc/locks shows the lease BREAKING' },
        { check: 'blocked', actor: 'breaker', in: '__break_lease', within: '2s' },
      ],
    },
    {
      id: 'teardown',
      actor: 'holder',
      do: { op: 'munmap' },
      say: 'A cooperative holder tears down: first its mapping...',
      expect: [{ check: 'still-blocked', actor: 'breaker', for: '200ms', in: '__break_lease', says: 'unmapping alone does not release the lease' }],
    },
    {
      id: 'unlock',
      actor: 'holder',
      do: { op: 'lease', type: 'unlock' },
      say: '...then its lease. The breaker goes on at once.',
      expect: [
        { check: 'finishes', actor: 'breaker', within: '1s', after: { step: 'unlock' } },
        { check: 'returns', step: 'truncate', ok: true },
        { check: 'lease', file: 'leased', state: 'absent' },
      ],
    },
    { id: 'regrow', actor: 'holder', do: { op: 'ftruncate', size: '64K' }, say: 'Round two. The holder grows the file back...' },
    { id: 'remap', actor: 'holder', do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] }, say: '...maps it with MAP_SYNC again...' },
    { id: 'refault', actor: 'holder', do: { op: 'touch', pages: [0], write: true }, say: '...and touches page 0.' },
    {
      id: 'relock',
      actor: 'holder',
      do: { op: 'lease', type: 'write', signal: 'SIGRTMIN+1' },
      say: 'It takes the write lease again; this time it will not answer the break.',
      expect: [{ check: 'returns', ok: true }],
    },
    {
      id: 'open-for-write',
      actor: 'breaker',
      async: true,
      do: { op: 'open', path: 'leased' },
      say:
        'The breaker opens the file for writing, as it must before it can write or fallocate: the open itself breaks the lease. ' +
        'The holder is signalled and ignores it; the lease-break-time countdown runs (the observer shows the time left).',
      cite: [D],
      expect: [
        { check: 'signal', actor: 'holder', signal: 'SIGRTMIN+1', within: '1s' },
        { check: 'lease', file: 'leased', state: 'BREAKING', within: '1s' },
        { check: 'blocked', actor: 'breaker', in: '__break_lease', within: '2s' },
        {
          check: 'finishes',
          actor: 'breaker',
          after: { stepStart: 'open-for-write' },
          within: 'lease-break-time + 2s',
          notBefore: 'lease-break-time - 1s',
          says: 'the kernel times the stubborn holder out after fs.lease-break-time and lets the open through',
        },
        { check: 'returns', ok: true },
        { check: 'lease', file: 'leased', state: 'absent', says: 'the holder\'s lease is gone' },
      ],
    },
    {
      id: 'write',
      actor: 'breaker',
      do: { op: 'write', offset: 0, length: '4K', byte: 165 },
      say: 'The breaker writes the first page of the file.',
      expect: [{ check: 'returns', ok: true, ret: 4096 }],
    },
    {
      id: 'still-mapped',
      actor: 'holder',
      do: { op: 'touch', pages: [0], write: false },
      say:
        'The holder still has its mapping, and nothing took it away: a lease can be revoked, a mapping cannot. ' +
        'MAP_DIRECT proposed exactly this missing piece (a SIGBUS once the lease is gone).',
      cite: [D],
      expect: [{ check: 'returns', ok: true, says: 'the holder\'s mapping still works after its lease was timed out (no SIGBUS: nothing revokes it)' }],
    },
    {
      id: 'proposal-flag',
      actor: 'holder',
      do: { op: 'mmap', length: '64K', flags: ['MAP_SHARED_VALIDATE', '0x80000'] },
      say: 'Last, the proposal\'s own flag: MAP_SHARED_VALIDATE | 0x80000. The kernel validates it as the flag it knows by that value: MAP_SYNC.',
      cite: [D],
      expect: [{ check: 'returns', ok: true, says: 'the kernel accepts 0x80000 on the DAX file (it is MAP_SYNC)' }],
    },
  ],
};
