// What the lab traces in the guest: one set, asked for by the dashboard when the guest is
// up, by every scenario run and by the self-test (trace.c knows each name).
import type { HostCommand } from '../wire/protocol.js';
import { cachedCallScans } from './callScanCache.js';

/** Tracepoint systems and events (tracefs), and the kprobe groups of trace.c. */
export const TRACE = {
  cmd: 'trace',
  events: ['fs_dax', 'filelock', 'lock/contention_begin', 'lock/contention_end'],
  kprobes: ['gup', 'layouts', 'pipe'],
} as const satisfies HostCommand & { cmd: 'trace' };

/**
 * The trace command as the wire takes it (mutable lists). `cached`: with the call scans the
 * host kept (callScanCache.ts), so a kernel already scanned is not scanned again.
 */
export const traceCommand = (opts: { cached?: boolean } = {}): Extract<HostCommand, { cmd: 'trace' }> => ({
  cmd: 'trace',
  events: [...TRACE.events],
  kprobes: [...TRACE.kprobes],
  ...(opts.cached ? { callScanCache: cachedCallScans() } : {}),
});
