// daxlab (no arguments) and daxlab replay FILE: the TUI. Both need a terminal.
import fs from 'node:fs';
import { UsageError } from '../exit.js';

function needTerminal(what: string): void {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new TerminalError(`${what} needs a terminal (stdin and stdout a TTY); for scripts use "daxlab boot", "daxlab selftest" or "daxlab run"`);
  }
}

export class TerminalError extends UsageError {
  override name = 'TerminalError';
}

export async function labCommand(opts: { profile?: string }): Promise<number> {
  needTerminal('the lab');
  const { labTui } = await import('../screens/tui.js');
  await labTui(opts);
  return 0;
}

export async function replayCommand(file: string | undefined, opts: { speed: number; report?: string }): Promise<number> {
  if (!file) throw new TerminalError('usage: daxlab replay FILE (a transcript.jsonl from a run directory)');
  if (!fs.existsSync(file)) throw new TerminalError(`no such transcript: ${file}`);
  needTerminal('replay');
  const { replayTui } = await import('../screens/tui.js');
  await replayTui(file, opts);
  return 0;
}
