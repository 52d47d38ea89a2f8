import { defineConfig } from "vitest/config";

// The real-browser suite (test-browser/run.sh starts it in a network namespace).
export default defineConfig({
  test: {
    include: ["test-browser/**/*.test.ts"],
    // One browser, one livekit-server, tests in order.
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
