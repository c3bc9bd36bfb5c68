// The fstests generic/075 class of race: DAX faults against truncate, punch and extend.
import type { ScenarioInput } from '../scenario.js';
import { DAX_FAULT_DEADLOCK } from './threads.js';

export const faultVsTruncate: ScenarioInput = {
  id: 'fault-vs-truncate',
  title: 'DAX faults racing truncate, hole punch and extend (fsx-style, seeded)',
  summary:
    'Several tasks fault the same DAX file at once: write faults that allocate blocks, read faults, and reads of holes, which the kernel answers with its zero page. ' +
    'Meanwhile a mutator truncates, punches and extends the file. The 2015 thread found, through fsx (fstests generic/075), a fault path that released a lock it did not hold ' +
    'and hung the next locker; the reviewer\'s point was that fault locking has to be obvious. Here a hang detector watches every task, every value read is checked against an ' +
    'fsx-style shadow copy, and lock contention is counted per lock. The plan of rounds follows --seed; the interleaving within a round is the kernel\'s.',
  threads: [DAX_FAULT_DEADLOCK],
  era: [
    'Faults take the mapping\'s invalidate_lock shared (on 6.1 XFS_MMAPLOCK is that lock); truncate and punch take it exclusive, and i_mmap_rwsem to unmap.',
    'A load that runs while a punch removes its page can see part old data, part zeros: that is the race, not corruption, and the shadow copy allows it.',
  ],
  needs: { fs: ['xfs', 'ext4'] },
  actors: [{ name: 'writer1' }, { name: 'writer2' }, { name: 'reader' }, { name: 'holes' }, { name: 'mutator' }],
  hangDetector: { blockedLongerThan: '20s' },
  steps: [
    {
      id: 'race',
      say: 'Rounds of concurrent faults against truncate / punch / extend on a 32-page file; each round ends when every actor has returned.',
      race: {
        file: 'racer',
        pages: 32,
        rounds: 80,
        writers: ['writer1', 'writer2'],
        readers: ['reader'],
        holeReaders: ['holes'],
        mutator: 'mutator',
        mutations: ['truncate', 'punch', 'extend'],
        pagesPerOp: 4,
      },
      expect: [
        { check: 'no-data-mismatch', id: 'data', says: 'every value read, during the race and by read(2) afterwards, is one the shadow copy allows' },
      ],
    },
  ],
};
