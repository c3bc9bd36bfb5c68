// The one place that turns an outcome into daxlab's exit code and its message, for every
// command: 0 every expectation held, 1 a finding (the kernel did something the scenario
// rules out), 2 a usage mistake, 3 a bug of daxlab, 125 could not test (git bisect run's
// "skip"), 128+N the user stopped us with signal N. Only exit 1 is a claim about the
// kernel, so nothing but a scenario's verdict may produce it.

export const EXIT = { held: 0, finding: 1, usage: 2, ourBug: 3, cannotTest: 125 } as const;

/** A mistake on the command line: the usage line and exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The usage of the command the mistake was made in. */
    readonly usage?: string,
  ) {
    super(message);
  }
}

/**
 * The lab could not test (bad input, a host or guest problem): exit 125, no stack trace.
 * The errors of the modules (ProfileError, ScenarioError, KernelError, BootError, ...)
 * extend it, so this file needs to know none of them.
 */
export class CannotTestError extends Error {}

/** The user (or the system) stopped the run with a signal: no verdict, no "bug of daxlab". */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
  }
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** Node's errors about a file the user named (a directory where a file belongs, a missing file). */
const fileErrnos: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EEXIST: 'already exists (a file where a directory was to be made?)',
};

function fileError(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e !== 'object' || typeof e.code !== 'string' || !(e.code in fileErrnos)) return null;
  return `${e.path ? `${e.path}: ` : ''}${fileErrnos[e.code]} (${e.code}${e.syscall ? ` in ${e.syscall}` : ''})`;
}

export type Classified = { code: number; message: string; ourBug: boolean };

/** What an error means for the user: its exit code and the message to print. */
export function classify(err: unknown): Classified {
  if (err instanceof InterruptedError) return { code: 128 + (signalNumbers[err.signal] ?? 15), message: err.message, ourBug: false };
  if (err instanceof UsageError) return { code: EXIT.usage, message: (err as Error).message, ourBug: false };
  if (err instanceof CannotTestError) return { code: EXIT.cannotTest, message: (err as Error).message, ourBug: false };
  // The observer cannot read this kernel (its BTF lacks a member the lab needs, no
  // /proc/kcore, ...): the lab could not test, the kernel is not at fault.
  const e = err as { stage?: unknown; message?: unknown };
  if (e && typeof e === 'object' && e.stage === 'kernel-unreadable') {
    return { code: EXIT.cannotTest, message: `could not test: the agent cannot read this kernel's state: ${String(e.message).replace(/^kernel-unreadable: /, '')}`, ourBug: false };
  }
  const file = fileError(err);
  if (file) return { code: EXIT.cannotTest, message: file, ourBug: false };
  const message = err instanceof Error ? err.message : String(err);
  return { code: EXIT.ourBug, message, ourBug: true };
}

/** Whether an error means "could not test" (not a finding, not a bug of ours). */
export function isCannotTest(err: unknown): err is Error {
  return classify(err).code === EXIT.cannotTest;
}

/** Print what went wrong (no stack trace unless verbose) and return the exit code. */
export function reportError(err: unknown, opts: { verbose?: boolean; context?: string } = {}): number {
  const c = classify(err);
  const write = (text: string) => process.stderr.write(`${text}\n`);
  if (err instanceof InterruptedError) {
    write(`daxlab: ${c.message}${opts.context ? ` ${opts.context}` : ''}; nothing was concluded`);
    return c.code;
  }
  if (c.code === EXIT.usage) {
    write(`daxlab: ${c.message}`);
    const usage = (err as UsageError).usage;
    if (usage) write(`usage: ${usage}\n(daxlab <command> --help for more)`);
    return c.code;
  }
  if (c.ourBug) {
    write(`daxlab: internal error${opts.context ? ` ${opts.context}` : ''} (a bug of daxlab, not a kernel finding): ${c.message}`);
    if (opts.verbose && err instanceof Error && err.stack) write(err.stack);
    else write('(run again with --verbose for the stack trace, and please report it)');
    return c.code;
  }
  write(`daxlab: ${c.message}`);
  return c.code;
}
