import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

// Three entries: the library, `@scep/core/testing` (the store conformance
// suites, which import vitest) and `@scep/core/internal` (the HTTP helpers the
// sibling @scep packages share; not public API). The testing entry imports only
// types from the library (and one constant). The internal one bundles its own
// copies of what its helpers use (signedDataHoldsNoCertificate parses with the
// codec's classes), but they return plain values (booleans, numbers, bytes) and
// rethrow only what they are given, so no copy of a class reaches a caller
// (`instanceof` against the library's classes stays true; contrast
// @scep/proxy's testing entry, tsup.base.ts `testingImportsLibrary`). No chunk
// is emitted.
export default defineConfig({ ...packageBuild, entry: { index: "src/index.ts", "testing/index": "src/testing/index.ts", "internal/index": "src/internal/index.ts" } });
