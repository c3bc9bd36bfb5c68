// Start the TUI: the live lab (`daxlab`), a recorded run (`daxlab replay FILE`), or a
// compare (`daxlab compare ... --tui`).
import { render } from 'ink';
import { concurrency, hostResources } from '../commands/runs.js';
import { loadProfile } from '../config/profiles.js';
import { App, type MakeCompare, type Route } from './App.js';
import { CompareController, type CompareSpec } from './compare.js';
import { LiveController } from './live.js';
import type { LabController } from './model.js';
import { ReplayController } from './replay.js';
import { colorsEnabled } from './theme.js';

/** A compare whose profile sides boot guests, one after the other unless cores and memory allow both (as `daxlab compare` decides). */
export const liveCompare: MakeCompare = (spec) =>
  new CompareController(spec, {
    live: () => new LiveController(),
    plan: (profiles) =>
      concurrency(
        profiles.map((p) => {
          try {
            return loadProfile(p);
          } catch {
            // The side says what is wrong with it when it boots.
            return { cpus: 1, memory: '0' };
          }
        }),
        hostResources(),
      ),
  });

export async function runTui(controller: LabController, initial: Route, extra: { compare?: CompareController } = {}): Promise<void> {
  // Rendering is coalesced in the store: 30 states a second, down to 15 when a frame costs
  // more than half of 1/30 s (a loaded machine, a slow terminal). Ink's own limit sits above
  // it (at 30 its throttle would hold back every frame of a 30 Hz clock by a frame). Not
  // Ink's incremental rendering: in tmux it left the first frame's lines on screen and drew
  // every later frame a line lower (Ink 6.8).
  controller.store.setFrameClock({ maxFps: 30, minFps: 15 });
  const ink = render(<App controller={controller} initial={initial} color={colorsEnabled()} makeCompare={liveCompare} {...(extra.compare ? { compare: extra.compare } : {})} />, {
    exitOnCtrlC: false,
    maxFps: 60,
    incrementalRendering: false,
    patchConsole: true,
  });
  await ink.waitUntilExit();
}

export async function labTui(opts: { profile?: string }): Promise<void> {
  const controller = new LiveController();
  // A profile on the command line boots at once; otherwise the profile list opens on the default.
  if (opts.profile) controller.boot(opts.profile);
  await runTui(controller, opts.profile ? 'boot' : 'profiles');
}

export async function replayTui(file: string, opts: { speed: number; report?: string }): Promise<void> {
  await runTui(new ReplayController(file, { speed: opts.speed, ...(opts.report ? { report: opts.report } : {}) }), 'live');
}

/** The compare screen from the start; the exit code is the compare's (125 when it was left before both runs were over). */
export async function compareTui(spec: CompareSpec): Promise<number> {
  const compare = liveCompare(spec);
  compare.start();
  await runTui(new LiveController(), 'compare', { compare });
  return compare.getView().comparison?.exitCode ?? 125;
}
