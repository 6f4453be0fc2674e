#!/usr/bin/env node
// Bundles one example server into a single JavaScript file that plain `node` runs, so that `pnpm start`,
// `pnpm start:hono` and `pnpm start:proxy` (and the benchmarks that measure them) run compiled code, not TypeScript
// through tsx's loader.
//
// Usage: node scripts/bundle-example.mjs <example> [<example> …]   (express-server, hono-server, proxy-server)
// Writes examples/<example>/dist/main.mjs and its source map main.mjs.map (git-ignored), in about a second
// from the packages' and examples' TypeScript sources (the example's tsconfig.json maps @scep/* to
// packages/*/src): no `pnpm build` needed first. Exits 1 with esbuild's messages when a source does not compile.
// `node scripts/bundle-example.mjs --file <entry.ts> <out.mjs>` bundles any other script the same way, with the
// repository's tsconfig.typecheck.json (the soak benchmark's heap probe, preloaded into a bundled server).
//
// Why: tsx runs its module hooks on a thread with a V8 isolate of its own and keeps every transformed file and its
// source map in memory. Measured on the 2-core development machine (Node 20.20.2, 2026-12-06), the Express example
// holds 148.6 MB RSS ten seconds after start under `node --import tsx` and 93.0 MB from this bundle (issue 13,
// goal 1's peak RSS line).
//
// What stays as in the sources:
// - `import.meta.url` is replaced, in every bundled file that reads it, by that file's own URL: an example finds its
//   files beside its sources (the admin page's app.js and app.css, config.schema.json, `<repo>/.scep-data`) as it
//   does under tsx.
// - `require` (CommonJS dependencies loading Node's modules) is Node's `createRequire` of the bundle; `__dirname`
//   and `__filename`, for a CommonJS dependency that reads them, name the bundle's directory and file (today only
//   ioredis does, to trim its stack traces, and only with its `showFriendlyErrorStack` option, which nothing sets).
// - The bundle holds the sources' absolute paths (their URLs, and the source map's paths): it runs in the checkout it
//   was bundled from, which every start does.
// - Stack traces name the bundle's lines; `node --enable-source-maps examples/<example>/dist/main.mjs` maps them back
//   to the TypeScript sources (the map is linked, not loaded by default: loading it costs memory).
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const EXAMPLES = ["express-server", "hono-server", "proxy-server"];

/**
 * An esbuild plugin: each file that reads `import.meta.url` gets its own URL there, not the bundle's. Any other use of
 * `import.meta` (`.dirname`, `.filename`, `.resolve()`, `import.meta` alone) would silently name the bundle instead,
 * so it stops the bundle with an error naming the file.
 */
const ownFileUrls = {
  name: "own-file-urls",
  setup(build) {
    build.onLoad({ filter: /\.(?:[cm]?[jt]s|tsx)$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes("import.meta")) return undefined; // esbuild reads the file itself
      const url = JSON.stringify(pathToFileURL(args.path).href);
      const contents = source.replace(/\bimport\.meta\.url\b/g, () => url); // a function: no `$&` patterns from the path
      if (/\bimport\.meta\b/.test(contents)) {
        return { errors: [{ text: `${args.path} uses import.meta other than import.meta.url, which would name the bundle, not this file` }] };
      }
      return { contents, loader: /\.[cm]?ts$/.test(args.path) ? "ts" : args.path.endsWith(".tsx") ? "tsx" : "js" };
    });
  },
};

const BANNER = [
  'import { createRequire as __scepCreateRequire } from "node:module";',
  'import { fileURLToPath as __scepFileURLToPath } from "node:url";',
  "const require = __scepCreateRequire(import.meta.url);",
  "var __filename = __scepFileURLToPath(import.meta.url);",
  'var __dirname = __scepFileURLToPath(new URL(".", import.meta.url));',
].join(" ");

/**
 * Bundles `examples/<example>/src/main.ts` into `examples/<example>/dist/main.mjs`; returns that path.
 */
export function bundleExample(example) {
  if (!EXAMPLES.includes(example)) throw new Error(`bundle-example: unknown example "${example}" (one of ${EXAMPLES.join(", ")})`);
  const dir = join(REPO, "examples", example);
  return bundleFile(join(dir, "src", "main.ts"), join(dir, "dist", "main.mjs"), join(dir, "tsconfig.json"));
}

/**
 * Bundles the script `entry` (a path) and everything it imports into `outfile` (ESM, and `outfile`.map), resolving
 * with `tsconfig`; returns `outfile`. The files are written under temporary names and renamed into place, so a
 * server starting from the bundle never reads half of one.
 */
export async function bundleFile(entry, outfile, tsconfig = join(REPO, "tsconfig.typecheck.json")) {
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    tsconfig,
    banner: { js: BANNER },
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "none",
    logLevel: "warning",
    write: false,
    plugins: [ownFileUrls],
  });
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${randomUUID()}.tmp`; // unique across processes and machines sharing a checkout
    try {
      mkdirSync(dirname(file.path), { recursive: true });
      writeFileSync(temporary, file.contents);
      renameSync(temporary, file.path);
    } catch (e) {
      try {
        rmSync(temporary, { force: true });
      } catch {
        // the write's error is the one to report
      }
      throw new Error(`bundle-example: cannot write ${file.path} (${e?.code ?? e?.message ?? e})`, { cause: e });
    }
  }
  return outfile;
}

// Run as a command (not imported): argv[1] resolved through symlinks, as Node resolved this module's URL.
if (process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url) {
  const args = process.argv.slice(2);
  const file = args[0] === "--file";
  if (file ? args.length !== 3 : args.length === 0) {
    process.stderr.write(`usage: node scripts/bundle-example.mjs <example>…  (${EXAMPLES.join(", ")})\n       node scripts/bundle-example.mjs --file <entry.ts> <out.mjs>\n`);
    process.exit(2);
  }
  try {
    if (file) await bundleFile(resolve(args[1]), resolve(args[2]));
    else for (const example of args) await bundleExample(example);
  } catch (e) {
    // esbuild has printed the compile errors with their files and lines; a bad argument has not been printed.
    if (!e?.errors) process.stderr.write(`${e?.message ?? e}\n`);
    process.exit(1);
  }
}
