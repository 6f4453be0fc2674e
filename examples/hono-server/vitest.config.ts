import { defineProject } from "vitest/config";

// Spawns the example as a child process; real RSA keys and several restarts per file.
export default defineProject({
  test: {
    name: "hono-server",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
