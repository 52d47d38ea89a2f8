import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // ../gen/ts has no node_modules of its own: resolve the packages its
    // generated code imports from this package's root.
    dedupe: ["@bufbuild/protobuf", "@bufbuild/protovalidate"],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // The server tests build and start the real lktoken binary.
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});
