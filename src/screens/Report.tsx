// The report: verdicts and findings with evidence, the timeline, the transcript; x exports
// it as plain text wrapped at 72 columns and as Markdown next to the transcript.
import { Text } from 'ink';
import { useAppView, useController, useLabState } from './hooks.js';
import { buildReport, reportText } from './report.js';
import { ReportFrame } from './ReportFrame.js';
import type { Tone } from './theme.js';
import { lossSummary } from './view.js';

const tone = (l: string): Tone | undefined => (/VIOLATED|^Finding/.test(l) ? 'bad' : /\[held\]/.test(l) ? 'ok' : /^outcome/.test(l) ? 'accent' : undefined);

export function Report() {
  const state = useLabState();
  const view = useAppView();
  const controller = useController();
  const report = buildReport(state, view.run, view.transcript, lossSummary(state));
  return (
    <ReportFrame
      context="report"
      screen="report"
      title={<Text>{report.outcome}</Text>}
      // The screen shows the same text the export writes, at the terminal's width.
      lines={(width) => reportText(report, width).split('\n')}
      tone={tone}
      exportKey={{
        bar: 'export .txt (72 cols) + .md',
        help: 'exports plain text wrapped at 72 columns (for a mailing-list reply) and Markdown next to the transcript',
        run: () => controller.exportReport(),
      }}
      exported={view.exported}
    />
  );
}
