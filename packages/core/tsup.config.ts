import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

// Three entries: the library, `@scep/core/testing` (the store conformance
// suites, which import vitest) and `@scep/core/internal` (the HTTP helpers the
// sibling @scep packages share; not public API). The testing entry imports only
// types from the library, and the internal one only self-contained modules
// (they are in the library's bundle too), so no code is shared between them
// and no chunk is emitted.
export default defineConfig({ ...packageBuild, entry: { index: "src/index.ts", "testing/index": "src/testing/index.ts", "internal/index": "src/internal/index.ts" } });
