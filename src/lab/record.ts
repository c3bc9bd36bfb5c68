// Folding a recorded run: a transcript (src/wire/transcript.ts) through the reducer.
import { readTranscript, type TranscriptHeader, type TranscriptProblem } from '../wire/transcript.js';
import { initialState, reduce, type LabState, type Limits } from './state.js';

/** Fold a transcript through the reducer: the state the live run ended with (plus what damage replay found). */
export function stateFromTranscript(
  file: string,
  limits: Partial<Limits> = {},
): { state: LabState; header: TranscriptHeader | null; problems: TranscriptProblem[] } {
  let state = initialState(limits);
  let header: TranscriptHeader | null = null;
  const problems: TranscriptProblem[] = [];
  for (const item of readTranscript(file)) {
    if (item.type === 'header') header = item.header;
    else if (item.type === 'problem') problems.push(item.problem);
    else state = reduce(state, item.message);
  }
  return { state, header, problems };
}
