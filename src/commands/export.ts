// daxlab export --format perfetto <transcript> [-o FILE] [--report R]: a recorded run as
// Chrome/Perfetto trace-event JSON (opens in ui.perfetto.dev), built from the same
// timeline model as the dashboard's and the report's.
import fs from 'node:fs';
import { perfettoTrace } from '../lab/perfetto.js';
import { runRecordPath } from '../screens/controller.js';
import { ReplayController } from '../screens/replay.js';
import { runTimeline } from '../screens/timelineText.js';
import { checkOutputFile, checkTranscript } from '../inputs.js';
import { parseCommandArgs, usageExit, UsageError } from './args.js';

export const EXPORT_USAGE = 'daxlab export --format perfetto <transcript.jsonl> [-o FILE] [--report R]';

/** The verdicts of a run: the record beside the transcript, else a report named after it (X.report.json), else none. */
function reportFor(transcript: string, given?: string): string | undefined {
  if (given) return given;
  if (fs.existsSync(runRecordPath(transcript))) return undefined;
  const beside = `${transcript.replace(/\.jsonl$/, '')}.report.json`;
  return fs.existsSync(beside) ? beside : undefined;
}

export async function exportCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseCommandArgs(argv, {
      format: { type: 'string' },
      output: { type: 'string', short: 'o' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    });
  } catch (err) {
    if (err instanceof UsageError) return usageExit(EXPORT_USAGE, err.message);
    throw err;
  }
  if (args.values.help) {
    process.stdout.write(`usage: ${EXPORT_USAGE}\n`);
    return 0;
  }
  const [file, ...extra] = args.positionals;
  if (args.values.format !== 'perfetto') return usageExit(EXPORT_USAGE, args.values.format ? `unknown format "${args.values.format}": only perfetto (Chrome trace-event JSON)` : 'say which format: --format perfetto');
  if (!file || extra.length) return usageExit(EXPORT_USAGE, file ? `one transcript at a time (got ${args.positionals.length})` : 'which transcript? (transcript.jsonl of a run directory)');
  // As replay checks them: random bytes, a directory, a missing file are not a transcript
  // (125, as for replay); the output's directory is checked before the work, not after.
  checkTranscript(file);
  if (args.values.output !== undefined) checkOutputFile(args.values.output, '-o');
  const report = reportFor(file, args.values.report);
  if (report && !fs.existsSync(report)) return usageExit(EXPORT_USAGE, `no such report: ${report}`);

  let replay: ReplayController;
  try {
    replay = new ReplayController(file, { paused: true, ...(report ? { report } : {}) });
  } catch (err) {
    // A report that is not one of a built-in scenario, or unreadable JSON: the user's input.
    return usageExit(EXPORT_USAGE, (err as Error).message);
  }
  replay.runToEnd();
  const view = replay.getView();
  for (const p of view.replay?.problems ?? []) process.stderr.write(`daxlab: ${file}: ${p} (left out)\n`);
  const state = replay.store.state;
  const timeline = runTimeline(state, view.run);
  await replay.shutdown();
  const trace = perfettoTrace(timeline, {
    transcript: file,
    ...(state.kernel ? { kernel: state.kernel.release } : {}),
    ...(state.run?.profile ? { profile: state.run.profile } : {}),
    ...(view.run ? { scenario: view.run.scenario.id } : {}),
    ...(report ? { report } : {}),
  });
  const text = `${JSON.stringify(trace)}\n`;
  if (args.values.output) {
    fs.writeFileSync(args.values.output, text);
    process.stderr.write(
      `daxlab: wrote ${args.values.output}: ${timeline.actors.length} actors, ${timeline.pages.length} pages, ${timeline.locks.length} locks, ` +
        `${timeline.steps.filter((s) => s.start !== null).length} steps, ${timeline.verdicts.filter((v) => v.finding).length} findings (open it in ui.perfetto.dev)\n`,
    );
  } else process.stdout.write(text);
  return 0;
}
