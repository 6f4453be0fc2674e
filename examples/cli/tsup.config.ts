import { defineConfig } from "tsup";

/**
 * The published `scep` binary: one ESM file with a node shebang, @scep/core
 * kept external (a dependency, resolved from the user's node_modules). Built
 * with the root tsconfig, not this directory's: that one maps @scep/core to
 * its sources for `pnpm scep`, which would bundle them in.
 */
export default defineConfig({
  // dist/bin/scep.js sits as deep as src/lib/version.ts, so its
  // `new URL("../../package.json", import.meta.url)` finds this package's
  // package.json from the bundle too (`scep --version`).
  entry: { "bin/scep": "src/main.ts" },
  outDir: "dist",
  format: ["esm"],
  target: "node20",
  platform: "node",
  banner: { js: "#!/usr/bin/env node" },
  sourcemap: true,
  clean: true,
  splitting: false,
  external: ["@scep/core"],
  removeNodeProtocol: false,
  tsconfig: "../../tsconfig.json",
});
