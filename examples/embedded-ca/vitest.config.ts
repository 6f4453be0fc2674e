import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

export default defineProject({
  resolve: {
    // Against @scep/core's source, like the examples themselves run (tsconfig paths): no build needed.
    alias: { "@scep/core/internal": fileURLToPath(new URL("../../packages/core/src/internal/index.ts", import.meta.url)), "@scep/core": fileURLToPath(new URL("../../packages/core/src/index.ts", import.meta.url)) },
  },
  test: {
    name: "embedded-ca",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
