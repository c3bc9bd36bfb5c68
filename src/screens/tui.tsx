// Start the TUI: the live lab (`daxlab`) or a recorded run (`daxlab replay FILE`).
import { render } from 'ink';
import { App, type Route } from './App.js';
import { LiveController } from './live.js';
import type { LabController } from './model.js';
import { ReplayController } from './replay.js';
import { colorsEnabled } from './theme.js';

export async function runTui(controller: LabController, initial: Route): Promise<void> {
  // Rendering is coalesced in the store (≤15 states a second); Ink's own limit sits above it.
  const ink = render(<App controller={controller} initial={initial} color={colorsEnabled()} />, {
    exitOnCtrlC: false,
    maxFps: 30,
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
