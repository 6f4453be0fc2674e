import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

export default defineProject({
  resolve: {
    // Tests run against the sources of @scep/core, not its dist.
    alias: [
      { find: /^@scep\/core\/testing$/, replacement: fileURLToPath(new URL("../core/src/testing/index.ts", import.meta.url)) },
      { find: /^@scep\/core\/internal$/, replacement: fileURLToPath(new URL("../core/src/internal/index.ts", import.meta.url)) },
      { find: /^@scep\/core$/, replacement: fileURLToPath(new URL("../core/src/index.ts", import.meta.url)) },
    ],
  },
  test: {
    name: "intune",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
