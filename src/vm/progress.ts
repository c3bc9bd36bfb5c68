// How src/vm tells its caller what it is doing; the CLI prints it, the TUI renders it.
export type Progress = {
  /** A long step begins. */
  start(stage: string, detail: string): void;
  /** It ended, after ms milliseconds. */
  done(stage: string, ms: number, detail?: string): void;
  /** A line of output worth showing (apt, the guest console). */
  log(stage: string, line: string): void;
};

export const silentProgress: Progress = { start() {}, done() {}, log() {} };

/** Time an async step and report it. */
export async function step<T>(progress: Progress, stage: string, detail: string, fn: () => Promise<T>): Promise<[T, number]> {
  const began = performance.now();
  progress.start(stage, detail);
  const value = await fn();
  const ms = Math.round(performance.now() - began);
  progress.done(stage, ms);
  return [value, ms];
}
