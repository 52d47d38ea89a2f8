import { defineConfig } from "vitest/config";

// The fresh-Angular-app install test (test-install/): one app, installs in order.
export default defineConfig({
  test: {
    include: ["test-install/**/*.test.ts"],
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
});
