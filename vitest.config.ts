import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.{ts,tsx}'],
          // A TMPDIR of the unit run's own, which must be empty when it ends.
          globalSetup: ['test/unit/tmpCheck.ts'],
        },
      },
      {
        test: {
          name: 'guest',
          include: ['test/guest/**/*.test.ts'],
          // Guests are heavy under TCG on 2 cores: one file at a time.
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
