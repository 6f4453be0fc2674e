import { defineProject } from "vitest/config";

// The example servers (Express, Hono) run as child processes and the real
// SCEP clients (micromdm scepclient, strongSwan pki, certmonger) enroll
// against them over loopback. Real processes are slow, and the suite starts
// and stops servers per describe block, so files run one at a time with
// generous limits.
export default defineProject({
  test: {
    name: "interop",
    include: ["test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
