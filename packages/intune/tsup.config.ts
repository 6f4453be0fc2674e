import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

// Two entry points: the package, and `@scep/intune/testing` (the store conformance suites, which import vitest).
export default defineConfig({
  ...packageBuild,
  entry: { index: "src/index.ts", testing: "src/testing/index.ts" },
  external: ["vitest"],
});
