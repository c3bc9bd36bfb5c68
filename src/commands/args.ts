// Option parsing for the commands that take their own options (compare, matrix, bisect):
// a mistake is a usage line and exit 2, never a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { UsageError } from '../exit.js';

export { UsageError };

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util's messages say what is wrong ("Unknown option '--x'"); keep them, drop the trace.
    throw new UsageError((err as Error).message);
  }
}

/** Print a usage error and the usage line; the exit code of a usage mistake. */
export function usageExit(usage: string, problem?: string): 2 {
  process.stderr.write(`${problem ? `daxlab: ${problem}\n` : ''}usage: ${usage}\n`);
  return 2;
}

/** "a,b, c" -> ["a","b","c"]; repeated options add up. */
export function listOption(values: string | string[] | undefined): string[] {
  const all = Array.isArray(values) ? values : values === undefined ? [] : [values];
  return all.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** A file name made from a profile name or path and a scenario id. */
export function safeName(text: string): string {
  const base = text.replace(/\.json$/, '').split('/').filter(Boolean).pop() ?? text;
  return base.replace(/[^A-Za-z0-9._-]/g, '_') || 'x';
}
