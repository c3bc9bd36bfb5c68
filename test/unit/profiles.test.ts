import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  listProfiles,
  loadProfile,
  ProfileError,
  saveProfile,
  savedProfileStore,
  validateProfile,
} from '../../src/config/profiles.js';
import { tempDirs } from './tempDirs.js';

const tmp = tempDirs('daxlab-conf-');
const tmpStore = () => savedProfileStore(tmp());

describe('profiles', () => {
  it('ships a valid default (xfs, 1 GiB fsdax + 256 MiB devdax, auto accel) and ext4 profile', () => {
    const store = tmpStore();
    const def = loadProfile('default', store);
    expect(def.fs.type).toBe('xfs');
    expect(def.fs.mkfsOptions).toEqual(['-m', 'reflink=0']);
    expect(def.nvdimms).toEqual([
      { size: '1G', mode: 'fsdax' },
      { size: '256M', mode: 'devdax' },
    ]);
    expect(def.accel).toBe('auto');
    expect(def.kernel).toEqual({ source: 'debian', package: 'linux-image-amd64', suite: 'bookworm' });
    expect(loadProfile('ext4', store).fs.type).toBe('ext4');
    // One profile per kernel era, under the names other tools use.
    expect(loadProfile('lts-6.12', store).kernel).toEqual({ source: 'debian', package: 'linux-image-amd64', suite: 'bookworm-backports' });
    expect(loadProfile('sid', store).kernel).toEqual({ source: 'debian', package: 'linux-image-amd64', suite: 'sid' });
    expect(listProfiles(store).every((e) => !('error' in e))).toBe(true);
  });

  it('takes a kernel from any Debian suite, a path or a built tree; refuses a bad suite or package name', () => {
    expect(validateProfile({ name: 'a', kernel: { source: 'debian' } }, 'a').kernel).toEqual({ source: 'debian', package: 'linux-image-amd64', suite: 'bookworm' });
    expect(validateProfile({ name: 'a', kernel: { source: 'tree', dir: '~/linux' } }, 'a').kernel).toEqual({ source: 'tree', dir: '~/linux' });
    let error: ProfileError | undefined;
    try {
      validateProfile({ name: 'a', kernel: { source: 'debian', package: 'vim', suite: 'Sid Backports' } }, 'a.json');
    } catch (err) {
      error = err as ProfileError;
    }
    expect(error?.problems.some((p) => p.startsWith('kernel.package:'))).toBe(true);
    expect(error?.problems.some((p) => p.startsWith('kernel.suite:'))).toBe(true);
  });

  it('reports every error with its path', () => {
    let error: ProfileError | undefined;
    try {
      validateProfile(
        {
          name: 'Bad Name',
          accel: 'hvf',
          nvdimms: [{ size: 'lots', mode: 'fsdax' }, { size: '1G', mode: 'raw' }],
          fs: { type: 'btrfs' },
          sampling: { hz: 500 },
          bogus: 1,
        },
        'test.json',
      );
    } catch (err) {
      error = err as ProfileError;
    }
    expect(error).toBeInstanceOf(ProfileError);
    const text = error!.problems.join('\n');
    for (const where of ['name:', 'accel:', 'nvdimms[0].size:', 'nvdimms[1].mode:', 'fs.type:', 'sampling.hz:', '(top level):']) {
      expect(text).toContain(where);
    }
    expect(text).toContain('"lots" is not a size');
  });

  it('refuses an nvdimm list without fsdax', () => {
    expect(() => validateProfile({ name: 'x', nvdimms: [{ size: '1G', mode: 'devdax' }] }, 'x')).toThrow(/fsdax/);
  });

  it('saves valid profiles, refuses invalid ones without touching what was saved', () => {
    const store = tmpStore();
    saveProfile({ name: 'mine', fs: { type: 'ext4' } }, store);
    const before = fs.readFileSync(store.path, 'utf8');
    expect(() => saveProfile({ name: 'mine', fs: { type: 'zfs' } }, store)).toThrow(ProfileError);
    expect(fs.readFileSync(store.path, 'utf8')).toBe(before);
    expect(loadProfile('mine', store).fs.type).toBe('ext4');
  });

  it('lists a broken saved profile with its errors instead of dropping it', () => {
    const store = tmpStore();
    store.set('profiles', { broken: { name: 'broken', cpus: 0 } });
    const entry = listProfiles(store).find((e) => e.name === 'broken');
    expect(entry && 'error' in entry && entry.error.problems.join()).toMatch(/cpus/);
    expect(() => loadProfile('broken', store)).toThrow(/cpus/);
    expect(store.get('profiles')).toHaveProperty('broken');
  });

  it('names the known profiles when asked for an unknown one', () => {
    expect(() => loadProfile('nope', tmpStore())).toThrow(/known profiles: .*default/);
  });
});
