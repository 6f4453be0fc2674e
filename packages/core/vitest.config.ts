import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "core",
    include: ["test/**/*.test.ts"],
    setupFiles: [],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
