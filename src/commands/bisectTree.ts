// daxlab bisect --tree DIR: `git bisect run` in a kernel tree with the lab as the script.
// Each step builds the tree (exit 125 when it does not build), installs its modules into
// the bisect's directory, boots it as a `source: path` kernel with the profile's guest and
// runs the scenario. A bug of daxlab exits 255, which stops git bisect instead of being
// read as "bad".
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { loadProfile } from '../config/profiles.js';
import { packageRoot } from '../paths.js';

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export type TreeScriptOptions = { tree: string; outDir: string; scenario: string; templateFile: string; daxlab: string; seed?: number };

/** The step script git bisect runs (POSIX sh). */
export function treeStepScript(o: TreeScriptOptions): string {
  return `#!/bin/sh
# Written by "daxlab bisect --tree": one step of git bisect run.
# 0 the scenario held, 1 the finding, 125 skip (no build, or could not test), 255 stop.
tree=${sq(o.tree)}
out=${sq(o.outDir)}
cd "$tree" || exit 125
rev=$(git rev-parse --short HEAD) || exit 125
step="$out/step-$rev"
make olddefconfig >"$step.build.log" 2>&1 || exit 125
nice -n 19 make -j"$(nproc)" bzImage modules >>"$step.build.log" 2>&1 || exit 125
rel=$(make -s kernelrelease) || exit 125
mods="$out/modules-$rev"
rm -rf "$mods"
make modules_install INSTALL_MOD_PATH="$mods" >>"$step.build.log" 2>&1 || exit 125
node -e 'const fs = require("fs"); const [t, o, b, m, c, n] = process.argv.slice(1);
const p = JSON.parse(fs.readFileSync(t, "utf8"));
p.name = n; p.kernel = { source: "path", bzImage: b, modules: m, config: c };
fs.writeFileSync(o, JSON.stringify(p, null, 2));' \\
  ${sq(o.templateFile)} "$step.profile.json" "$tree/arch/x86/boot/bzImage" "$mods/lib/modules/$rel" "$tree/.config" "bisect-$rev" || exit 125
node ${sq(o.daxlab)} run ${sq(o.scenario)} --profile "$step.profile.json"${o.seed !== undefined ? ` --seed ${o.seed}` : ''} --json --record "$step.jsonl" >"$step.json" 2>"$step.log"
code=$?
rm -rf "$mods"
echo "$rev $rel exit $code" >>"$out/steps.txt"
case $code in
0 | 1 | 125) exit $code ;;
*) exit 255 ;;
esac
`;
}

/** "abc123 is the first bad commit" from git bisect run's output. */
export function firstBadCommit(output: string): string | null {
  return /^([0-9a-f]{7,40}) is the first bad commit/m.exec(output)?.[1] ?? null;
}

export type TreeBisectOptions = {
  scenario: string;
  tree: string;
  good: string;
  bad: string;
  profile: string;
  outDir: string;
  say: (line: string) => void;
  seed?: number;
  /** Tests: a different step script (the real one builds a kernel). */
  script?: string;
};

export async function bisectTree(o: TreeBisectOptions): Promise<number> {
  const tree = path.resolve(o.tree);
  const git = (args: string[]) => execa('git', ['-C', tree, ...args], { reject: false, all: true, stdin: 'ignore' });
  if (!fs.existsSync(path.join(tree, '.git')) && (await git(['rev-parse', '--git-dir'])).exitCode !== 0) {
    o.say(`daxlab: ${tree} is not a git tree: --tree needs a kernel source checkout`);
    return 125;
  }
  if (!o.script && !fs.existsSync(path.join(tree, '.config'))) {
    o.say(`daxlab: ${tree} has no .config: merge profiles/daxlab.config into one first (scripts/kconfig/merge_config.sh)`);
    return 125;
  }
  if ((await git(['status', '--porcelain', '--untracked-files=no'])).stdout.trim()) {
    o.say(`daxlab: ${tree} has uncommitted changes: git bisect would check other commits out over them; commit or stash them`);
    return 125;
  }
  for (const rev of [o.good, o.bad]) {
    if ((await git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])).exitCode !== 0) {
      o.say(`daxlab: ${rev} is not a commit in ${tree}`);
      return 2;
    }
  }
  const outDir = path.resolve(o.outDir);
  fs.mkdirSync(outDir, { recursive: true });
  let script = o.script;
  if (!script) {
    const templateFile = path.join(outDir, 'template.profile.json');
    fs.writeFileSync(templateFile, JSON.stringify(loadProfile(o.profile), null, 2));
    script = path.join(outDir, 'step.sh');
    fs.writeFileSync(script, treeStepScript({ tree, outDir, scenario: o.scenario, templateFile, daxlab: path.join(packageRoot, 'bin/daxlab.mjs'), ...(o.seed !== undefined ? { seed: o.seed } : {}) }), { mode: 0o755 });
  }
  o.say(`daxlab bisect --tree: git bisect run in ${tree}, ${o.good} (good) .. ${o.bad} (bad); step files in ${outDir}`);
  const start = await git(['bisect', 'start', o.bad, o.good]);
  if (start.exitCode !== 0) {
    o.say(`daxlab: git bisect start failed:\n${start.all}`);
    await git(['bisect', 'reset']);
    return 125;
  }
  try {
    const child = execa('git', ['-C', tree, 'bisect', 'run', script], { reject: false, all: true, stdin: 'ignore' });
    child.all?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (/^(running|Bisecting:|[0-9a-f]{7,40} is the first bad commit)/.test(line)) o.say(`  ${line}`);
    });
    const run = await child;
    fs.writeFileSync(path.join(outDir, 'bisect-run.log'), run.all ?? '');
    fs.writeFileSync(path.join(outDir, 'bisect.log'), (await git(['bisect', 'log'])).stdout);
    const first = firstBadCommit(run.all ?? '');
    if (!first) {
      o.say(`daxlab: git bisect run ended without an answer (exit ${run.exitCode}); see ${path.join(outDir, 'bisect-run.log')}`);
      return run.exitCode === 0 ? 125 : 3;
    }
    const subject = (await git(['log', '-1', '--format=%h %s', first])).stdout;
    process.stdout.write(`first bad commit: ${subject}\nlog: ${path.join(outDir, 'bisect.log')}\n`);
    return 0;
  } finally {
    await git(['bisect', 'reset']);
  }
}
