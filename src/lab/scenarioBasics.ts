// The scenario schema's primitives (actor names, step ids, page and lock references,
// regular expressions, kernel versions) and its conditions (the schema and when one
// holds). Both the scenario schema (scenario.ts) and the checks (checks/*) build on them;
// they live here so that neither imports the other in a circle. scenario.ts re-exports them.
import { z } from 'zod';
import { compareVersion, kernelVersion } from './era.js';

export const name = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, '1-15 characters of [A-Za-z0-9_.-] (it becomes the task comm)');
export const stepId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-"');
/** A watched page: "<label>#<index in the watching actor's mapping>". */
export const pageRef = z.string().regex(/^[A-Za-z0-9_.-]+#\d+$/, 'a watched page: "<label>#<index>", e.g. "victim#0"');
/** A lock of a watched file: "<label>:<lock>". */
export const lockRef = z.string().regex(/^[A-Za-z0-9_.-]+:(invalidate_lock|i_mmap_rwsem|i_rwsem)$/, 'a lock: "<label>:invalidate_lock", ":i_mmap_rwsem" or ":i_rwsem"');
export const regex = z.string().superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(err as Error).message}` });
  }
});
export const fsType = z.enum(['xfs', 'ext4']);
const version = z.string().regex(/^\d+\.\d+$/, 'a kernel version: "6.15"');

/** How long a synchronous action may take before it counts as hung (a step's `timeout` default). */
export const ACTION_TIMEOUT = '30s';

// ---------------------------------------------------------------------------------------
// Conditions: a step or an expectation that does not apply is skipped / not-applicable.

export const AVAILABLE = ['devdax', 'rdma', 'nullBlk'] as const;

export const conditionSchema = z
  .object({
    fs: z.array(fsType).min(1).optional(),
    /** Kernel releases from `from` (inclusive) and/or before `before`. */
    kernel: z.object({ from: version.optional(), before: version.optional() }).strict().optional(),
    /** Parts of the lab that must be there (a devdax namespace, soft-RoCE, null_blk). */
    available: z.array(z.enum(AVAILABLE)).min(1).optional(),
    /** The actor is still inside an action (e.g. a truncate that was never woken). */
    busy: name.optional(),
    /** That step's action returned without an error or a signal (e.g. release only what was taken). */
    succeeded: stepId.optional(),
    /** That step's action returned an error (the kernel refused it): check what a refusal must leave behind. */
    failed: stepId.optional(),
  })
  .strict();
export type Condition = z.infer<typeof conditionSchema>;

export type ConditionContext = {
  fs: string;
  release: string;
  available: Readonly<Record<(typeof AVAILABLE)[number], boolean>>;
  busy: (actor: string) => boolean;
  succeeded: (stepId: string) => boolean;
  /** The step's action returned an errno (not a signal, not still running). */
  failed: (stepId: string) => boolean;
};

/** Whether a condition holds; when it does not, why (for "not-applicable"). */
export function conditionHolds(c: Condition | undefined, ctx: ConditionContext): { holds: true } | { holds: false; why: string } {
  if (!c) return { holds: true };
  if (c.fs && !c.fs.includes(ctx.fs as 'xfs')) return { holds: false, why: `applies to ${c.fs.join('/')}, not ${ctx.fs}` };
  const v = kernelVersion(ctx.release);
  if (c.kernel?.from && compareVersion(v, kernelVersion(c.kernel.from)) < 0) return { holds: false, why: `applies from v${c.kernel.from}; this is ${ctx.release}` };
  if (c.kernel?.before && compareVersion(v, kernelVersion(c.kernel.before)) >= 0) return { holds: false, why: `applies before v${c.kernel.before}; this is ${ctx.release}` };
  for (const part of c.available ?? []) if (!ctx.available[part]) return { holds: false, why: `needs ${part}, which this run does not have` };
  if (c.busy && !ctx.busy(c.busy)) return { holds: false, why: `${c.busy} is not inside an action any more` };
  if (c.succeeded && !ctx.succeeded(c.succeeded)) return { holds: false, why: `step ${c.succeeded} did not succeed` };
  if (c.failed && !ctx.failed(c.failed)) return { holds: false, why: `step ${c.failed} was not refused` };
  return { holds: true };
}
