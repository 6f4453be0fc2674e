import type { Options } from "tsup";

/**
 * The build every published package shares: one bundle per format from the
 * public entry point, ESM `dist/index.js` and CJS `dist/index.cjs` (packages
 * are `"type": "module"`), each with its own declarations (`index.d.ts` /
 * `index.d.cts`) so attw sees the right module kind on both sides of the
 * exports map. Dependencies stay external. A single entry means no shared
 * chunks, so @scep/core's `reflect-metadata` import (src/lib/x509.ts) stays
 * immediately before its `@peculiar/x509` import in each bundle.
 */
export const packageBuild: Options = {
  entry: ["src/index.ts"],
  outDir: "dist",
  format: ["esm", "cjs"],
  target: "node20",
  platform: "node",
  dts: { compilerOptions: { composite: false } },
  sourcemap: true,
  clean: true,
  splitting: false,
  treeshake: false,
  // keep `node:crypto` as written (tsup 8 strips the prefix by default)
  removeNodeProtocol: false,
  tsconfig: "tsconfig.json",
};
