// The CLI run in-process, for tests of its exit codes and messages.
import { expect, vi } from 'vitest';
import { main } from '../../src/cli.js';

/** Run the CLI in-process; what it printed and its exit code. */
export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

/** No stack trace in what the user sees. */
export const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .*:\d+:\d+/);
