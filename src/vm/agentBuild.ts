// Build the static guest agent from src/vm/guest with the host gcc, once per source content.
import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot, paths } from '../paths.js';
import type { Progress } from './progress.js';

export const guestSourceDir = path.join(packageRoot, 'src/vm/guest');

function listSources(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    // Skip the build output inside the source dir, judged by the path below it: a checkout
    // that itself lives under a "build" directory still has sources.
    .filter((e) => e.isFile() && /\.(c|h|sh)$|^Makefile$/.test(e.name) && !path.relative(dir, e.parentPath).split(path.sep).includes('build'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Hash of everything that goes into the agent binary (sources, Makefile, compiler). */
export function agentSourceHash(dir = guestSourceDir): string {
  const hash = crypto.createHash('sha256');
  for (const file of listSources(dir)) {
    hash.update(path.relative(dir, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

export async function buildAgent(progress: Progress): Promise<string> {
  const out = path.join(paths.cache, 'agent', agentSourceHash());
  const binary = path.join(out, 'daxlab-agent');
  if (fs.existsSync(binary)) return binary;
  progress.start('agent', 'building the guest agent (gcc -static -Wall -Wextra -Werror)');
  const began = performance.now();
  fs.mkdirSync(out, { recursive: true });
  const result = await execa('make', ['-C', guestSourceDir, `O=${out}`, '-j2'], { reject: false, all: true, stdin: 'ignore' });
  if (result.exitCode !== 0 || !fs.existsSync(binary)) {
    fs.rmSync(out, { recursive: true, force: true });
    throw new Error(`building the guest agent failed:\n${result.all}`);
  }
  progress.done('agent', Math.round(performance.now() - began));
  return binary;
}
