#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a clone works without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
// Exit when the command is done: a guest lost mid-run may leave the engine's timers behind.
process.exit(await main(process.argv.slice(2)));
