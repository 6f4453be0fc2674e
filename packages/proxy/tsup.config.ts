import { defineConfig } from "tsup";
import { packageBuild, testingImportsLibrary } from "../../tsup.base";

// Two entry points: the package, and `@scep/proxy/testing` (the conformance suites, which import vitest). The suites
// import the library's classes (UpstreamError, …) from `@scep/proxy` itself, not a second bundled copy.
export default defineConfig({
  ...packageBuild,
  entry: { index: "src/index.ts", testing: "src/testing/index.ts" },
  external: ["vitest"],
  esbuildPlugins: [testingImportsLibrary("@scep/proxy")],
});
