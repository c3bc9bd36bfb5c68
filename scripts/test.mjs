#!/usr/bin/env node
// The whole test suite: host packages first (daxlab doctor installs what is missing when
// root), then every vitest project, then one closing line "N passed, N failed".
import { execa } from 'execa';
import fs from 'node:fs';

const results = '.vitest-results.json';
const doctor = await execa('node', ['bin/daxlab.mjs', 'doctor'], { stdio: 'inherit', reject: false });
if (doctor.exitCode !== 0) {
  console.log('host set-up failed: see above');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
fs.rmSync(results, { force: true });
const run = await execa(
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)],
  { stdio: 'inherit', reject: false, env: { FORCE_COLOR: process.env.CI ? '0' : undefined } },
);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const json = JSON.parse(fs.readFileSync(results, 'utf8'));
  passed = json.numPassedTests;
  // numFailedTestSuites counts describe blocks too: add only the files that failed
  // without a failing test of their own (an import error, a crashed hook).
  const brokenFiles = json.testResults.filter(
    (file) => file.status === 'failed' && !file.assertionResults.some((t) => t.status === 'failed'),
  ).length;
  failed = json.numFailedTests + brokenFiles;
  skipped = json.numPendingTests + json.numTodoTests;
} catch {
  failed = Math.max(1, failed);
}
// vitest exits non-zero for failures outside any test too (the unit project's check that
// nothing is left in its TMPDIR, an unhandled error): count that as a failure, so the
// closing line never reads "0 failed" for a run that failed.
if (run.exitCode !== 0 && failed === 0) {
  console.log(`vitest exited ${run.exitCode} without a failing test: see the errors above`);
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(run.exitCode === 0 && failed === 0 && passed > 0 ? 0 : 1);
