import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "embedded-ca",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
