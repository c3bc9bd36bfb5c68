// When an actor's action fails, whose mistake is it? The lab validates every value before
// boot (src/config/limits.ts), but some mistakes only show when the kernel sees the
// request: a file the scenario never created (ENOENT), a mapping of a file opened
// read-only (EACCES), O_DIRECT that is not aligned (EINVAL), a fallocate mode this
// filesystem does not have (EOPNOTSUPP). Those are the scenario's: the run could not
// test (125), never a finding. Other errnos are the kernel's answer to what the scenario
// set up (a long-term pin of fsdax refused with EOPNOTSUPP, a lease refused with EAGAIN
// because of a conflicting open, EIO, a SIGBUS): the scenario's expectations judge those.
//
// The table is per op, because one errno means different things: EINVAL from mmap is the
// lab's own request refused (length, offset, flags); EOPNOTSUPP from io_uring_register
// is GUP refusing FOLL_LONGTERM on fsdax, which is what longterm-pin is about. A
// failure the scenario declares (a `returns` check that allows it, a `when: { failed }`
// or `when: { succeeded }` on the step) is never the scenario's mistake: it is judged
// by that expectation.
import { failureClaim } from './checks/returns.js';
import type { Predicate, Scenario } from './scenario.js';

export type FailureClass =
  /** The scenario asked for something the kernel rightly refuses, or the lab refused it: 125. */
  | { kind: 'scenario'; why: string }
  /** The kernel's answer to what the scenario set up: the expectations judge it. */
  | { kind: 'kernel'; why: string };

/** What an action's end says about its failure (the protocol's action "end"). */
export type ActionEnd = { op: string; error?: string; signal?: string };

const ALWAYS_SCENARIO: Record<string, string> = {
  EBADF: 'the actor has no file open for this (open it first, or open it for writing)',
  ENAMETOOLONG: 'the path is too long',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'the path has a symbolic-link loop',
  ESPIPE: 'the file is not seekable',
};

/** Per op: the errnos that mean the scenario is wrong, and why in words. */
const SCENARIO_ERRNOS: Record<string, Record<string, string>> = {
  open: {
    ENOENT: 'the file does not exist (create: true, or create it in an earlier step)',
    EISDIR: 'the path is a directory',
    EEXIST: 'the file exists already',
    EINVAL: 'the kernel refused the open flags (O_DIRECT on a filesystem without it?)',
    EFBIG: 'the size is too large for this filesystem',
    EOVERFLOW: 'the size is too large for this filesystem',
    ENOSPC: "the lab's filesystem has no room for the size asked (make it smaller)",
    EDQUOT: "the lab's filesystem has no room for the size asked (make it smaller)",
    EROFS: 'the filesystem is read-only',
    ENODEV: 'no such device in this guest',
    ENXIO: 'no such device in this guest',
  },
  mmap: {
    EINVAL: "the kernel refused the mapping's length, offset or flags",
    EACCES: 'the file is not open for the access the mapping asks (a shared writable mapping of a read-only file)',
    ENODEV: 'this file cannot be mapped',
    ENOMEM: 'no room in the address space for a mapping this large',
    EEXIST: 'MAP_FIXED_NOREPLACE: the range is taken',
    EOVERFLOW: 'the offset and length overflow',
  },
  munmap: { EINVAL: 'there is no mapping to unmap' },
  close: { EINVAL: 'there is no file to close' },
  drain: { EINVAL: 'there is no pipe to drain' },
  io_uring_register: { EBUSY: 'buffers are registered already (unregister first)', EINVAL: 'the kernel refused the buffer list' },
  io_uring_unregister: { ENXIO: 'no buffers are registered', EINVAL: 'no buffers are registered' },
  rdma_dereg_mr: { EINVAL: 'no memory region is registered' },
  rdma_reg_mr: { ENODEV: 'no RDMA device in this guest' },
  vmsplice: { EINVAL: 'the kernel refused the vmsplice request' },
  odirect: {
    EINVAL: "O_DIRECT needs offsets, lengths and buffers aligned to the device's logical block size",
    ENOENT: 'no such device in this guest',
    ENODEV: 'no such device in this guest',
    ENXIO: 'no such device in this guest',
    EISDIR: 'the path is a directory',
    // The buffer is the actor's own mapping: GUP could not reference it, so the reference
    // every later expectation is about was never taken (seen once on sid in a guest that had
    // run the self-test first; not reproduced alone). Nothing to judge: could not test.
    EFAULT: "the kernel could not take a reference on the I/O's buffer (GUP failed on the actor's own mapping), so the reference the scenario is about was never held",
  },
  ftruncate: {
    EINVAL: 'not a regular file (a device?), or a size the filesystem cannot take',
    EFBIG: 'the size is too large for this filesystem',
    EISDIR: 'the file is a directory',
  },
  truncate: {
    ENOENT: 'the file does not exist',
    EISDIR: 'the path is a directory',
    EINVAL: 'not a regular file, or a size the filesystem cannot take',
    EFBIG: 'the size is too large for this filesystem',
  },
  fallocate: {
    EOPNOTSUPP: 'this filesystem does not have this fallocate mode (name the filesystems in needs.fs)',
    EINVAL: 'the offset or length is not what this mode takes (aligned to the filesystem block; collapse: within the file)',
    ENODEV: 'not a regular file',
    EFBIG: 'the range is too large for this filesystem',
    ENOSPC: "the lab's filesystem has no room for it (make it smaller)",
  },
  write: {
    EINVAL: 'O_DIRECT needs aligned offsets and lengths',
    EISDIR: 'the file is a directory',
    EFBIG: 'the range is too large for this filesystem',
    ENOSPC: "the lab's filesystem has no room for it (make it smaller)",
  },
  read: { EINVAL: 'O_DIRECT needs aligned offsets and lengths', EISDIR: 'the file is a directory' },
  pattern_check: { EINVAL: 'the kernel refused the read' },
  lease: { EINVAL: 'a lease needs a regular file (and a filesystem that has leases)' },
};

const ERRNO = /^E[A-Z0-9]+$/;
/** What the agent says of an action whose actor exited under it (src/vm/guest/actors.c). */
const ACTOR_DIED = 'the actor exited during the action';

/** Whose mistake a failed action is; null when the action did not fail. */
export function classifyFailure(end: ActionEnd): FailureClass | null {
  if (end.signal) return { kind: 'kernel', why: `${end.op} was ended by ${end.signal}` };
  if (!end.error) return null;
  // The actor died under the action (or before a queued one ran): not a refusal of the request.
  if (end.error === ACTOR_DIED) return { kind: 'kernel', why: `the actor died during its ${end.op}` };
  if (end.error === 'ECANCELED') return { kind: 'kernel', why: `the actor died before its ${end.op} ran` };
  if (!ERRNO.test(end.error)) {
    // No errno: the agent itself refused the request (no mapping yet, no open file, a bad value).
    return { kind: 'scenario', why: `the lab refused ${end.op}: ${end.error}` };
  }
  const reason = SCENARIO_ERRNOS[end.op]?.[end.error] ?? ALWAYS_SCENARIO[end.error];
  if (reason) return { kind: 'scenario', why: `${end.op} failed with ${end.error}: ${reason}` };
  return { kind: 'kernel', why: `the kernel refused ${end.op} with ${end.error}` };
}

/** Every predicate of a scenario, with the step it belongs to (0-based). */
function predicates(s: Scenario): Array<{ p: Predicate; at: number; stepId: string }> {
  return s.steps.flatMap((st, i) => {
    const stepId = st.id ?? `step-${i + 1}`;
    return [...(st.waitFor ? [st.waitFor.until] : []), ...(st.expect ?? [])].map((p) => ({ p, at: i, stepId }));
  });
}

/**
 * Whether the scenario declares that this step's action may fail this way: a `returns`
 * check on it that allows the errno (or the signal), or a condition on whether it
 * failed or succeeded (the scenario then has a branch for either outcome).
 */
export function failureDeclared(s: Scenario, stepId: string, end: ActionEnd): boolean {
  // The scenario signals this actor at or after the step: what the signal does to the action is its doing.
  const at = s.steps.findIndex((st, i) => (st.id ?? `step-${i + 1}`) === stepId);
  const actor = at >= 0 ? s.steps[at]!.actor : undefined;
  if (actor && s.steps.some((st, i) => i >= at && st.kill?.actor === actor)) return true;
  const conds = [...s.steps.map((st) => st.when), ...predicates(s).map(({ p }) => p.when)];
  if (conds.some((c) => c?.failed === stepId || c?.succeeded === stepId)) return true;
  return predicates(s).some(({ p, stepId: own }) => {
    const claim = failureClaim(p, own);
    if (!claim || claim.step !== stepId) return false;
    if (end.signal) return claim.signal !== undefined && claim.signal.replace(/^SIG/, '') === end.signal.replace(/^SIG/, '');
    return claim.errnos.includes(end.error!);
  });
}

/** Whether a `returns` check of a later step is about this step's action (it judges the outcome there). */
export function judgedLater(s: Scenario, stepId: string): boolean {
  const at = s.steps.findIndex((st, i) => (st.id ?? `step-${i + 1}`) === stepId);
  return predicates(s).some(({ p, at: where, stepId: own }) => {
    const claim = failureClaim(p, own);
    return where > at && claim?.named === true && claim.step === stepId;
  });
}
