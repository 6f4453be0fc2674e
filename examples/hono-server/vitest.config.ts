import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

// Spawns the example as a child process; real RSA keys and several restarts per file.
export default defineProject({
  resolve: {
    // Against @scep/core's source, like the examples themselves run (tsconfig paths): no build needed.
    alias: { "@scep/core/internal": fileURLToPath(new URL("../../packages/core/src/internal/index.ts", import.meta.url)), "@scep/core": fileURLToPath(new URL("../../packages/core/src/index.ts", import.meta.url)) },
  },
  test: {
    name: "hono-server",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    // A hook starts the example (its bundle, a new CA key) and may enroll real clients: on a loaded machine that takes tens
    // of seconds (the Express project's admin-page hook took 30 s of its 60).
    hookTimeout: 120_000,
  },
});
