// Where daxlab keeps things on the host: XDG directories, as conf uses them.
import envPaths from 'env-paths';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const xdg = envPaths('daxlab', { suffix: '' });

export const paths = {
  /** Kernels, built agents and guest images: safe to delete, rebuilt on demand. */
  cache: process.env.DAXLAB_CACHE_DIR ?? xdg.cache,
  /** Run directories (console logs, transcripts) and remembered probe results. */
  state: process.env.DAXLAB_STATE_DIR ?? path.join(xdg.data, 'state'),
  /** The user's saved profiles (conf). */
  config: process.env.DAXLAB_CONFIG_DIR ?? xdg.config,
};

/** The repository (or installed package) root: shipped profiles and guest sources live here. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
