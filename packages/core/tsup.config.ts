import { defineConfig } from "tsup";

/**
 * One bundle per format from the public entry point: ESM `dist/index.js` and
 * CJS `dist/index.cjs` (the package is `"type": "module"`), each with its own
 * declarations (`index.d.ts` / `index.d.cts`) so attw sees the right module
 * kind on both sides of the exports map. Dependencies stay external; a single
 * entry means no shared chunks, so the `reflect-metadata` import in
 * src/lib/x509.ts stays at the top of each bundle, before `@peculiar/x509`.
 */
export default defineConfig({
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
});
