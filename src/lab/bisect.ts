// Bisecting over released kernels: which packages of one flavour lie between two, and a
// binary search over them driven by each step's exit code (0 held, 1 finding, 125 skip).
// Pure: the apt look-ups and the runs are the caller's (src/commands/bisect.ts).
//
// Both ends are run too: a range whose ends agree has "no change in range", and the
// search runs towards whatever the newer end shows, so a range from a bad release to a
// good one finds the fix as readily as a good-to-bad range finds the regression.

/** A Debian kernel image package as its name spells it: linux-image-<abi>-<flavour>. */
export type ImageName = {
  name: string;
  /** "6.12.43+deb12", "6.1.0-57": the part that changes from build to build. */
  abi: string;
  /** "amd64", "cloud-amd64", "rt-amd64". */
  flavour: string;
  /** The ABI's family: "+deb12" builds are named by upstream version, "-N" (6.1.0-57) by ABI number. */
  family: string;
};

const IMAGE = /^linux-image-(\d+\.\d+\.\d+(?:\+deb\d+|-\d+))-([a-z0-9][a-z0-9-]*)$/;

export function parseImageName(name: string): ImageName | null {
  const m = IMAGE.exec(name);
  if (!m || /-(dbg|unsigned)$/.test(name)) return null;
  const abi = m[1]!;
  // "6.12.43+deb12" -> "+deb12"; "6.1.0-57" -> "6.1.0-N".
  const family = abi.includes('+') ? abi.replace(/^[\d.]+/, '') : abi.replace(/-\d+$/, '-N');
  return { name, abi, flavour: m[2]!, family };
}

/** The upstream version of a Debian package version: "6.12.43-1~bpo12+1" -> "6.12.43". */
export function upstreamVersion(debianVersion: string): string {
  return debianVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

/** Numeric compare of dotted versions ("6.12.9" < "6.12.43"); ties broken by the text. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export type Release = { package: string; version: string; upstream: string };

export class BisectError extends Error {}

/**
 * The released images between two packages (both included), oldest first: the same
 * flavour and naming family as the two ends. `versions` maps each package to its Debian
 * version (apt-cache show); packages without one are not released in the suite's lists.
 */
export function releasesBetween(names: string[], versions: ReadonlyMap<string, string>, good: string, bad: string): Release[] {
  const ends = [good, bad].map((n) => {
    const parsed = parseImageName(n);
    if (!parsed) throw new BisectError(`${n} is not a versioned kernel image package (linux-image-6.12.43+deb12-amd64, linux-image-6.1.0-57-amd64, ...)`);
    if (!versions.has(n)) throw new BisectError(`${n} is not in the suite's package lists`);
    return parsed;
  });
  const [g, b] = ends as [ImageName, ImageName];
  if (g.flavour !== b.flavour) throw new BisectError(`${good} and ${bad} are different flavours (${g.flavour}, ${b.flavour}): bisect one flavour`);
  if (g.family !== b.family) throw new BisectError(`${good} and ${bad} are named differently (${g.abi}, ${b.abi}): bisect within one kernel line`);
  const release = (name: string): Release => {
    const version = versions.get(name)!;
    return { package: name, version, upstream: upstreamVersion(version) };
  };
  const order = (x: Release, y: Release) => compareVersions(x.upstream, y.upstream) || compareVersions(x.version, y.version);
  const [lo, hi] = [release(good), release(bad)].sort(order) as [Release, Release];
  return names
    .map(parseImageName)
    .filter((p): p is ImageName => !!p && p.flavour === g.flavour && p.family === g.family && versions.has(p.name))
    .map((p) => release(p.name))
    .filter((r) => order(r, lo) >= 0 && order(r, hi) <= 0)
    .sort(order)
    .filter((r, i, all) => i === 0 || all[i - 1]!.package !== r.package);
}

// ---------------------------------------------------------------------------------------
// The search.

export type StepResult = { index: number; exitCode: number; note?: string };

export type BisectAnswer =
  | { kind: 'change'; lastOld: number; firstNew: number; oldCode: number; newCode: number; skipped: number[] }
  | { kind: 'no-change'; code: number }
  | { kind: 'ambiguous'; lastOld: number; firstNew: number; oldCode: number; newCode: number; skipped: number[] }
  | { kind: 'cannot-test'; index: number; why: string }
  | { kind: 'bug'; index: number };

export type BisectStep = { test: number; why: string } | { done: BisectAnswer };

/**
 * The next release to run, from the results so far (indexes into releases, oldest first).
 * Ends first; then halve the interval between the newest release that behaves like the
 * older end and the oldest one that behaves like the newer end, stepping around skips.
 */
export function nextStep(count: number, results: readonly StepResult[]): BisectStep {
  if (count < 2) return { done: { kind: 'cannot-test', index: 0, why: 'bisect needs two different releases' } };
  const at = new Map(results.map((r) => [r.index, r.exitCode]));
  const last = count - 1;
  for (const end of [0, last]) {
    if (!at.has(end)) return { test: end, why: end === 0 ? 'the older end' : 'the newer end' };
    const code = at.get(end)!;
    if (code === 125) return { done: { kind: 'cannot-test', index: end, why: `the ${end === 0 ? 'older' : 'newer'} end could not be tested` } };
    if (code !== 0 && code !== 1) return { done: { kind: 'bug', index: end } };
  }
  const oldCode = at.get(0)!;
  const newCode = at.get(last)!;
  if (oldCode === newCode) return { done: { kind: 'no-change', code: oldCode } };
  const bug = results.find((r) => r.exitCode !== 0 && r.exitCode !== 1 && r.exitCode !== 125);
  if (bug) return { done: { kind: 'bug', index: bug.index } };
  // As git bisect: the oldest release that behaves like the newer end, and the newest
  // one before it that behaves like the older end.
  const tested = [...at].sort((x, y) => x[0] - y[0]);
  const hi = tested.find(([, code]) => code === newCode)![0];
  const lo = tested.filter(([i, code]) => code === oldCode && i < hi).pop()![0];
  const skipped = [...at].filter(([i, c]) => c === 125 && i > lo && i < hi).map(([i]) => i).sort((x, y) => x - y);
  const untested = Array.from({ length: hi - lo - 1 }, (_, k) => lo + 1 + k).filter((i) => !at.has(i));
  if (!untested.length) {
    const answer = { lastOld: lo, firstNew: hi, oldCode, newCode, skipped };
    return { done: skipped.length ? { kind: 'ambiguous', ...answer } : { kind: 'change', ...answer } };
  }
  const mid = (lo + hi) / 2;
  const pick = untested.reduce((best, i) => (Math.abs(i - mid) < Math.abs(best - mid) ? i : best));
  return { test: pick, why: `between ${lo} and ${hi}${skipped.length ? ` (skipped ${skipped.length})` : ''}` };
}

/** The longest a search over `count` releases can take, in runs (ends included), without skips. */
export function maxSteps(count: number): number {
  return count < 2 ? 0 : 2 + Math.ceil(Math.log2(Math.max(1, count - 1)));
}

const codeWord = (code: number) => (code === 0 ? 'held' : 'the finding');

/** The answer in words: first and last release, the upstream range between them. */
export function describeAnswer(releases: readonly Release[], answer: BisectAnswer): string[] {
  const r = (i: number) => `${releases[i]!.package} (${releases[i]!.version})`;
  switch (answer.kind) {
    case 'no-change':
      return [
        `no change in range: ${codeWord(answer.code)} on both ends, ${releases[0]!.package} .. ${releases[releases.length - 1]!.package} (exit ${answer.code} on each)`,
        ...(releases.length > 2 ? [`the ${releases.length - 2} release(s) between were not run: ends that agree leave nothing to search (a change and its revert inside the range would not show)`] : []),
      ];
    case 'cannot-test':
      return [`could not bisect: ${answer.why}${releases[answer.index] ? `: ${releases[answer.index]!.package}` : ''}`];
    case 'bug':
      return [`stopped: daxlab failed on ${releases[answer.index]?.package ?? '?'} (a bug of daxlab, not a kernel result)`];
    case 'change':
    case 'ambiguous': {
      const regression = answer.oldCode === 0;
      const a = releases[answer.lastOld]!;
      const b = releases[answer.firstNew]!;
      const lines = [
        regression ? `first bad:  ${r(answer.firstNew)}: the finding appears` : `first good: ${r(answer.firstNew)}: the finding is gone`,
        regression ? `last good:  ${r(answer.lastOld)}` : `last bad:   ${r(answer.lastOld)}`,
        a.upstream === b.upstream
          ? `upstream: both are ${a.upstream}: the change is in Debian's packaging or patches (${a.version} -> ${b.version})`
          : `upstream stable range: v${a.upstream}..v${b.upstream} (git log v${a.upstream}..v${b.upstream} in linux-stable)`,
      ];
      if (answer.kind === 'ambiguous') lines.push(`ambiguous: ${answer.skipped.map((i) => releases[i]!.package).join(', ')} could not be tested, so the change is somewhere in ${releases[answer.lastOld]!.package} .. ${releases[answer.firstNew]!.package}`);
      return lines;
    }
  }
}

/** Exit code of a bisect: 0 answered (a change or none), 125 could not, 3 our bug. */
export function bisectExit(answer: BisectAnswer): 0 | 3 | 125 {
  return answer.kind === 'bug' ? 3 : answer.kind === 'cannot-test' || answer.kind === 'ambiguous' ? 125 : 0;
}
