import { dirname, resolve, sep } from "node:path";
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

/**
 * For a package with a `testing` entry (its conformance suites): the suites' imports of the library's own modules
 * (`../errors.js`) are built as imports of the package itself (`@scep/proxy`, which Node resolves to the same
 * `dist/index.js` or `dist/index.cjs` a consumer loads), not bundled again into `dist/testing.*`. Bundled again, the
 * suite held its own copy of each error class, so `toBeInstanceOf(UpstreamError)` failed on the package's own
 * upstream once installed (the sources under test in the workspace share one copy and never showed it). Every value
 * the suites import that way must be exported from the package's index. Used as tsup's `esbuildPlugins`.
 */
export function testingImportsLibrary(packageName: string): NonNullable<Options["esbuildPlugins"]>[number] {
  // tsup runs in the package's directory (pnpm's build and prepack scripts): its own src/testing, as an absolute
  // prefix, so that a clone under some other …/src/testing/ folder does not match every file.
  const testingDir = resolve("src", "testing") + sep;
  return {
    name: "testing-imports-library",
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (!args.importer.startsWith(testingDir)) return undefined;
        if (resolve(dirname(args.importer), args.path).startsWith(testingDir)) return undefined;
        return { path: packageName, external: true };
      });
    },
  };
}
