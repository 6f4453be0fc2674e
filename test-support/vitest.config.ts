import { defineProject } from "vitest/config";

// Self-test of the real-peer harness (peers.ts): the peers talk to each other
// over loopback. Real processes are slow and micromdm's file depot races under
// concurrency, so files run one at a time with generous limits.
export default defineProject({
  test: {
    name: "peers",
    include: ["test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
