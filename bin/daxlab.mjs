#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a clone works without a build step.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// React's production build for the TUI: the development build checks and times every
// component render (performance.measure per render), which tripled the dashboard's frame
// time under an event flood (npm run bench tui). NODE_ENV=development brings it back.
process.env.NODE_ENV ??= 'production';

// Our own tsconfig, wherever the user runs daxlab from: tsx reads tsconfig.json from the
// working directory otherwise, and outside this repository the TUI's JSX compiled to
// React.createElement ("React is not defined", exit 3) or took another project's settings.
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import('../src/cli.ts');
// Exit when the command is done: a guest lost mid-run may leave the engine's timers behind.
process.exit(await main(process.argv.slice(2)));
