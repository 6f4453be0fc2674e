import { defineConfig } from "tsup";

/**
 * Same layout as @scep/core: ESM `dist/index.js` + CJS `dist/index.cjs`, each
 * with its own declarations. `@scep/core` and `express` stay external (the
 * adapter imports only types from them).
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
  removeNodeProtocol: false,
  tsconfig: "tsconfig.json",
});
