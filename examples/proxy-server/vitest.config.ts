import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

const src = (path: string): string => fileURLToPath(new URL(`../../packages/${path}`, import.meta.url));

// The proxy and its upstreams (micromdm scepserver, our Express example) run as child processes and the
// real clients (micromdm scepclient, strongSwan pki) enroll through it: slow, so one file at a time with
// generous limits. In-process tests run against the packages' sources, like the example itself.
export default defineProject({
  resolve: {
    alias: [
      { find: /^@scep\/core\/testing$/, replacement: src("core/src/testing/index.ts") },
      { find: /^@scep\/core\/internal$/, replacement: src("core/src/internal/index.ts") },
      { find: /^@scep\/core$/, replacement: src("core/src/index.ts") },
      { find: /^@scep\/intune$/, replacement: src("intune/src/index.ts") },
      { find: /^@scep\/proxy\/testing$/, replacement: src("proxy/src/testing/index.ts") },
      { find: /^@scep\/proxy$/, replacement: src("proxy/src/index.ts") },
      { find: /^@scep\/redis$/, replacement: src("redis/src/index.ts") },
    ],
  },
  test: {
    name: "proxy-server",
    include: ["test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
