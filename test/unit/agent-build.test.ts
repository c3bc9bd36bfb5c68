// The agent's cache key covers its sources wherever the checkout lives.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { agentSourceHash } from '../../src/vm/agentBuild.js';

const EMPTY = 'e3b0c44298fc1c14'; // sha256 of nothing: no source was hashed

describe('agent source hash', () => {
  it('hashes the sources of a checkout under a "build" directory, and skips only the build output below the source dir', () => {
    const top = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-hash-'));
    onTestFinished(() => fs.rmSync(top, { recursive: true, force: true }));
    const dir = path.join(top, 'build', 'checkout', 'guest');
    fs.mkdirSync(path.join(dir, 'kstate'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'agent.c'), 'int main(void) { return 0; }\n');
    fs.writeFileSync(path.join(dir, 'kstate', 'page.c'), '/* page */\n');
    const first = agentSourceHash(dir);
    expect(first).not.toBe(EMPTY);
    fs.writeFileSync(path.join(dir, 'kstate', 'page.c'), '/* page, changed */\n');
    expect(agentSourceHash(dir)).not.toBe(first);
    const changed = agentSourceHash(dir);
    fs.mkdirSync(path.join(dir, 'build'));
    fs.writeFileSync(path.join(dir, 'build', 'agent.o.c'), 'output\n');
    expect(agentSourceHash(dir)).toBe(changed);
  });
});
