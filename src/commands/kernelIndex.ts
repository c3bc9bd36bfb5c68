// The released kernel images of one Debian suite, for bisect: the names and versions the
// lab's own apt lists have (src/vm/debian.ts keeps them per suite; the host's apt is never
// touched). A suite the archive does not have, or no network and no lists, is exit 125.
import { paths } from '../paths.js';
import { DebianError, hostDebianMirrors, resolveKernelPackages, SuiteApt } from '../vm/debian.js';
import type { Progress } from '../vm/progress.js';
import { BisectError } from '../lab/bisect.js';

export type KernelIndex = {
  /** Every versioned image package of the suite (no -dbg, no -unsigned). */
  imagePackages(): Promise<string[]>;
  /** Debian version of each package that the lists have. */
  versions(names: string[]): Promise<Map<string, string>>;
  /** A metapackage (linux-image-amd64) to the versioned image it stands for. */
  resolveImage(name: string): Promise<string | null>;
};

export async function openKernelIndex(suite: string, progress: Progress): Promise<KernelIndex> {
  const apt = new SuiteApt(paths.cache, suite, hostDebianMirrors());
  try {
    await apt.update(progress);
  } catch (err) {
    if (err instanceof DebianError) throw new BisectError(err.message);
    throw err;
  }
  return {
    imagePackages: async () => (await apt.kernelImages()).filter((n) => /^linux-image-\d/.test(n)),
    versions: async (names) => new Map([...(await apt.showMany(names))].map(([name, pkg]) => [name, pkg.version])),
    resolveImage: async (name) => {
      try {
        const packages = await resolveKernelPackages(name, (n) => apt.show(n));
        return packages.find((p) => /^linux-image-\d/.test(p.name))?.name ?? null;
      } catch (err) {
        if (err instanceof DebianError) return null;
        throw err;
      }
    },
  };
}
