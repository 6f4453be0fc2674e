import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

// Two entries: the library, and `@scep/core/testing` (the store conformance
// suites, which import vitest). The testing entry imports only types from the
// library, so no code is shared and no chunk is emitted.
export default defineConfig({ ...packageBuild, entry: { index: "src/index.ts", "testing/index": "src/testing/index.ts" } });
