// Temporary directories of a unit test file: made under os.tmpdir(), all removed when the
// file's tests end (thousands were once left in /tmp). test/unit/tmpCheck.ts fails the unit
// run if anything is left in its TMPDIR all the same.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/** A maker of temporary directories named `<prefix>XXXXXX`; call it at a file's top level. */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
