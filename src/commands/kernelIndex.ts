// The released kernel images of one Debian suite, for bisect: the names and versions the
// lab's own apt lists have. Those lists are kept by the lab's Debian suite support
// (src/vm/debian.ts, from the kernel-eras work); until it is on this branch a released
// bisect cannot list anything and says so (exit 125), rather than keep a second apt layer.
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

export async function openKernelIndex(suite: string, _progress: Progress): Promise<KernelIndex> {
  throw new BisectError(`listing the released kernels of Debian ${suite} needs the lab's own apt lists per suite (src/vm/debian.ts), which this build does not have yet; bisect --tree works`);
}
