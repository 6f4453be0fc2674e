import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

export default defineProject({
  resolve: {
    // Tests run against @scep/core's source, not its dist (the middleware imports BodyAlreadyReadError from it).
    alias: [{ find: /^@scep\/core\/internal$/, replacement: fileURLToPath(new URL("../core/src/internal/index.ts", import.meta.url)) }, { find: /^@scep\/core$/, replacement: fileURLToPath(new URL("../core/src/index.ts", import.meta.url)) }],
  },
  test: {
    name: "express",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
