import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

const src = (path: string): string => fileURLToPath(new URL(`../../packages/${path}`, import.meta.url));

// The example servers (Express, Hono) run as child processes and the real
// SCEP clients (micromdm scepclient, strongSwan pki, certmonger) enroll
// against them over loopback; our own ScepClient enrolls against the real
// step-ca (test-support/peers/step-ca.ts), imported from the packages'
// sources. Real processes are slow, and the suite starts and stops servers
// per describe block, so files run one at a time with generous limits (the
// first step-ca start of a run builds it, about a minute: its hook says so).
export default defineProject({
  resolve: {
    alias: [{ find: /^@scep\/core\/internal$/, replacement: src("core/src/internal/index.ts") }, { find: /^@scep\/core$/, replacement: src("core/src/index.ts") }],
  },
  test: {
    name: "interop",
    include: ["test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
