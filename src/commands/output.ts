// Plain-text progress for the headless commands: one line per stage on stderr.
import type { Progress } from '../vm/progress.js';

export function consoleProgress(opts: { verbose?: boolean } = {}): Progress {
  const out = (text: string) => process.stderr.write(`${text}\n`);
  return {
    start(stage, detail) {
      out(`[${stage}] ${detail} ...`);
    },
    done(stage, ms, detail) {
      out(`[${stage}] done in ${(ms / 1000).toFixed(1)} s${detail ? `: ${detail}` : ''}`);
    },
    log(stage, line) {
      if (opts.verbose || stage !== 'host') out(`[${stage}] ${line}`);
    },
  };
}
