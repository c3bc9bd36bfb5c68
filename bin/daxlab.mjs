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
// A reader that went away (`daxlab compare --json | head`) is not our error: what it did
// not read is dropped, and the exit code is still the command's.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}
const { main } = await import('../src/cli.ts');
// Exit when the command is done: a guest lost mid-run may leave the engine's timers behind.
// But only once stdout and stderr are flushed: a pipe's writes are queued when its reader
// is slower than us, and process.exit() dropped what was queued (a `compare --json` of
// 240 KB arrived cut at 64 KiB). A write's callback runs after every write before it.
const code = await main(process.argv.slice(2));
const flushed = (stream) => new Promise((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
