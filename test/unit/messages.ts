// Builders for agent messages in unit tests: a snapshot with every part empty unless given.
import type { SnapshotMessage } from '../../src/wire/protocol.js';

let seq = 0;

export const snap = (t: number, parts: Partial<SnapshotMessage> = {}): SnapshotMessage => ({
  t,
  kind: 'snapshot',
  seq: ++seq,
  pages: [],
  locks: [],
  actors: [],
  leases: [],
  vmstat: {},
  dropped: { events: 0, snapshots: 0 },
  ...parts,
});

/** Start the snapshot sequence numbers again (tests that count missed snapshots). */
export function resetSnapSeq(): void {
  seq = 0;
}
