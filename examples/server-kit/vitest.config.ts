import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

export default defineProject({
  resolve: {
    // Against @scep/core's source, like the examples themselves run (tsconfig paths): no build needed.
    alias: {
      "@scep/core/internal": fileURLToPath(new URL("../../packages/core/src/internal/index.ts", import.meta.url)),
      "@scep/core": fileURLToPath(new URL("../../packages/core/src/index.ts", import.meta.url)),
      "@scep/redis": fileURLToPath(new URL("../../packages/redis/src/index.ts", import.meta.url)),
      "@scep/intune": fileURLToPath(new URL("../../packages/intune/src/index.ts", import.meta.url)),
    },
  },
  test: {
    name: "server-kit",
    include: ["test/**/*.test.ts"],
    // As in the other projects: vitest's defaults (5 s a test, 10 s a hook) are within reach of a loaded CI machine
    // for the fuzz runs and the embedded CA's key generation; no test here is about how fast it runs.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
