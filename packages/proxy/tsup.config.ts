import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

// Two entry points: the package, and `@scep/proxy/testing` (the ProfileStore conformance suite, which imports vitest).
export default defineConfig({
  ...packageBuild,
  entry: { index: "src/index.ts", testing: "src/testing/index.ts" },
  external: ["vitest"],
});
