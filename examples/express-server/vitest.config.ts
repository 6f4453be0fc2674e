import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

// Spawns the example as a child process; real RSA keys and several restarts per file.
export default defineProject({
  resolve: {
    // Against @scep/core's source, like the examples themselves run (tsconfig paths): no build needed.
    alias: { "@scep/core/internal": fileURLToPath(new URL("../../packages/core/src/internal/index.ts", import.meta.url)), "@scep/core": fileURLToPath(new URL("../../packages/core/src/index.ts", import.meta.url)) },
  },
  test: {
    name: "express-server",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    // A hook starts the example (its bundle, a new CA key) and enrolls real clients, or launches chromium: on a loaded
    // machine the admin page's hook took 30 s of its 60.
    hookTimeout: 120_000,
    // expect.poll waits on chromium and the child server; its default of 1 s is within reach of a loaded machine.
    expect: { poll: { timeout: 30_000 } },
  },
});
