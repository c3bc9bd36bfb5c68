// Rendering screens in tests: the App around a controller fed by a recorded transcript
// (or a fake view), at ink-testing-library's 100 columns and the 30 rows the layout targets.
import { render } from 'ink-testing-library';
import path from 'node:path';
import { App, type MakeCompare, type Route } from '../../../src/screens/App.js';
import type { CompareController } from '../../../src/screens/compare.js';
import { BaseController } from '../../../src/screens/controller.js';
import { KeyRegistry } from '../../../src/screens/keymap.js';
import type { AppView, LabController } from '../../../src/screens/model.js';
import { ReplayController } from '../../../src/screens/replay.js';

export const fixtures = path.resolve(import.meta.dirname, '../../fixtures');
export const fixture = (name: string) => path.join(fixtures, name);

export const delay = (ms = 30) => new Promise((r) => setTimeout(r, ms));

export const KEY = { enter: '\r', esc: '\u001B', tab: '\t', down: '\u001B[B', up: '\u001B[A', backspace: '\u007F' };

/** A replay fed to its end at once (no pacing): the state the recorded run ended with. */
export function replayed(file: string): ReplayController {
  const c = new ReplayController(file, { paused: true });
  c.runToEnd();
  return c;
}

/** A controller whose view the test sets (Boot, Profiles). */
export class FakeController extends BaseController implements LabController {
  calls: string[] = [];
  constructor(view: Partial<AppView> = {}) {
    super({ source: 'live', boot: { profile: 'default', status: 'idle', stages: [], console: [] }, run: null, transcript: null, ...view });
  }
  set(patch: Partial<AppView>): void {
    this.update(patch);
  }
  boot(profile: string): void {
    this.calls.push(`boot ${profile}`);
  }
  run(id: string, opts: { guided: boolean }): void {
    this.calls.push(`run ${id}${opts.guided ? ' guided' : ''}`);
  }
  next(): void {
    this.calls.push('next');
  }
  setPaused(p: boolean): void {
    this.calls.push(`pause ${p}`);
  }
  step(): void {
    this.calls.push('step');
  }
  intervene(id: string): void {
    this.calls.push(`intervene ${id}`);
  }
  async shutdown(): Promise<void> {
    this.calls.push('shutdown');
  }
}

export function renderApp(controller: LabController, initial: Route, registry?: KeyRegistry, extra: { compare?: CompareController; makeCompare?: MakeCompare } = {}) {
  const r = render(<App controller={controller} initial={initial} color={false} {...(registry ? { registry } : {})} {...extra} />);
  return {
    ...r,
    /** The last frame, as the user sees it. */
    screen: () => r.lastFrame() ?? '',
    async press(...keys: string[]) {
      for (const k of keys) {
        r.stdin.write(k);
        await delay();
      }
    },
  };
}
