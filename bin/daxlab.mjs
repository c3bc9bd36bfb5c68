#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a clone works without a build step.
import { register } from 'tsx/esm/api';

// React's production build for the TUI: the development build checks and times every
// component render (performance.measure per render), which tripled the dashboard's frame
// time under an event flood (npm run bench tui). NODE_ENV=development brings it back.
process.env.NODE_ENV ??= 'production';

register();
const { main } = await import('../src/cli.ts');
// Exit when the command is done: a guest lost mid-run may leave the engine's timers behind.
process.exit(await main(process.argv.slice(2)));
