import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

const core = (path: string): string => fileURLToPath(new URL(`../core/src/${path}`, import.meta.url));
const intune = (path: string): string => fileURLToPath(new URL(`../intune/src/${path}`, import.meta.url));
const proxy = (path: string): string => fileURLToPath(new URL(`../proxy/src/${path}`, import.meta.url));

export default defineProject({
  resolve: {
    // Test against @scep/core's source (one test, dist.test.ts, imports the built dist).
    alias: [
      { find: /^@scep\/core\/testing$/, replacement: core("testing/index.ts") },
      { find: /^@scep\/core\/internal$/, replacement: core("internal/index.ts") },
      { find: /^@scep\/core$/, replacement: core("index.ts") },
      { find: /^@scep\/intune\/testing$/, replacement: intune("testing/index.ts") },
      { find: /^@scep\/intune$/, replacement: intune("index.ts") },
      { find: /^@scep\/proxy\/testing$/, replacement: proxy("testing/index.ts") },
      { find: /^@scep\/proxy$/, replacement: proxy("index.ts") },
    ],
  },
  test: {
    name: "redis",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file starts its own redis-server; one at a time keeps the shared CPU calm.
    fileParallelism: false,
  },
});
