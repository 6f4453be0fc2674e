import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

export default defineProject({
  resolve: {
    // Against @scep/core's source, like the examples themselves run (tsconfig paths): no build needed.
    alias: {
      "@scep/core": fileURLToPath(new URL("../../packages/core/src/index.ts", import.meta.url)),
      "@scep/redis": fileURLToPath(new URL("../../packages/redis/src/index.ts", import.meta.url)),
      "@scep/intune": fileURLToPath(new URL("../../packages/intune/src/index.ts", import.meta.url)),
    },
  },
  test: {
    name: "server-kit",
    include: ["test/**/*.test.ts"],
  },
});
