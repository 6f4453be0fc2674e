#!/usr/bin/env node
/**
 * Type-checks every `@example` of the published packages' TSDoc, so the API
 * docs never show code that does not compile (a `myCa.issue(...)` that
 * exists nowhere).
 *
 * Each ```ts block under an `@example` tag in packages/<name>/src becomes one
 * module in packages/<name>/.doc-examples/ (gitignored; inside the package so
 * its dependencies resolve as they do for the package): when the example has no import of its own, it
 * is preceded by an import of every name the package exports (the docs show
 * the package's API, so its names are in scope); the free variables examples
 * lean on (`ca`, `csr`, `request`…) are declared, with their types, once in
 * scripts/doc-examples.d.ts. The modules are compiled with the workspace's
 * compiler options (strict, noUncheckedIndexedAccess) against the packages'
 * sources.
 *
 * Prints one line per failing example (package file and line, tsc's message)
 * and a closing `doc-examples: N passed, N failed` line; exits 1 when any
 * example fails to compile.
 *
 * Part of `pnpm test` (after typecheck): every example compiles. An example
 * declares what it uses (reads the CA from a file, builds its CSR with
 * generateCsr, takes a hook's input as a typed parameter); keep
 * scripts/doc-examples.d.ts to the few names that are the same everywhere.
 *
 * The READMEs' TypeScript blocks (root and packages) are not read here: each is a file of examples/quick-start/src,
 * compared word for word by examples/quick-start/test/quick-start.readme.test.ts and compiled by `pnpm run typecheck`.
 *
 * Usage: node scripts/check-doc-examples.mjs
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, ".tmp", "doc-examples");
const EXAMPLES_DIR = ".doc-examples";

/** Published packages: [manifest name, directory]. */
function packages() {
  return readdirSync(join(root, "packages"), { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(root, "packages", e.name, "package.json")))
    .map((e) => [JSON.parse(readFileSync(join(root, "packages", e.name, "package.json"), "utf8")), join(root, "packages", e.name)])
    .filter(([m]) => !m.private);
}

function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [join(dir, e.name)] : [],
  );
}

/** The names an entry file exports (`export { a, b as c }`, `export type { T }`, `export class/function/const X`). */
function exportedNames(entry, seen = new Set()) {
  if (seen.has(entry) || !existsSync(entry)) return [];
  seen.add(entry);
  const text = readFileSync(entry, "utf8");
  const names = [];
  for (const m of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[1].split(",")) {
      const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/).pop()?.trim();
      if (name && /^[A-Za-z_$][\w$]*$/.test(name) && name !== "default") names.push(name);
    }
  }
  for (const m of text.matchAll(/export\s+(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:class|function\*?|const|let|interface|type|enum)\s+([A-Za-z_$][\w$]*)/g)) names.push(m[1]);
  return [...new Set(names)];
}

/** The ```ts blocks that follow an @example tag, with the line each starts on. */
function examples(file) {
  const lines = readFileSync(file, "utf8").split("\n");
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\*\s*@example\b/.test(lines[i])) continue;
    let j = i + 1;
    while (j < lines.length && !/^\s*\*\s*```/.test(lines[j]) && !/^\s*\*\s*@/.test(lines[j]) && !/\*\//.test(lines[j])) j++;
    if (j >= lines.length || !/^\s*\*\s*```(ts|typescript)\s*$/.test(lines[j])) continue;
    const body = [];
    let k = j + 1;
    for (; k < lines.length && !/^\s*\*\s*```\s*$/.test(lines[k]); k++) body.push(lines[k].replace(/^\s*\* ?/, ""));
    found.push({ line: j + 2, code: body.join("\n") });
    i = k;
  }
  return found;
}

function main() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const includes = [];
  const origin = new Map();
  const paths = {};
  for (const [manifest, dir] of packages()) {
    const entries = Object.keys(manifest.exports ?? { ".": null })
      .filter((k) => k !== "./package.json")
      .map((k) => [k === "." ? manifest.name : `${manifest.name}/${k.slice(2)}`, join(dir, "src", k === "." ? "index.ts" : k.slice(2), k === "." ? "" : "index.ts")]);
    for (const [spec, entry] of entries) paths[spec] = [relative(out, entry.endsWith(".ts") ? entry : join(entry, "index.ts"))];
    const mainEntry = join(dir, "src", "index.ts");
    const names = exportedNames(mainEntry);
    const pkgOut = join(dir, EXAMPLES_DIR);
    rmSync(pkgOut, { recursive: true, force: true });
    mkdirSync(pkgOut, { recursive: true });
    includes.push(relative(out, join(pkgOut, "*.ts")));
    for (const file of tsFiles(join(dir, "src"))) {
      for (const { line, code } of examples(file)) {
        const id = `${relative(root, file).replace(/[/.]/g, "_")}_L${line}.ts`;
        const ownImports = /^\s*import\s/m.test(code);
        const header = ownImports ? "" : `import { ${names.join(", ")} } from ${JSON.stringify(manifest.name)};\n`;
        writeFileSync(join(pkgOut, id), `${header}${code}\nexport {};\n`);
        origin.set(id, { file: relative(root, file), line, headerLines: header ? 1 : 0 });
      }
    }
  }
  writeFileSync(
    join(out, "tsconfig.json"),
    JSON.stringify(
      {
        extends: relative(out, join(root, "tsconfig.json")),
        compilerOptions: { noEmit: true, paths, noUnusedLocals: false },
        include: [...includes, relative(out, join(root, "scripts", "doc-examples.d.ts"))],
      },
      null,
      2,
    ),
  );
  const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(out, "tsconfig.json"), "--pretty", "false"], {
    cwd: root,
    encoding: "utf8",
  });
  const failures = new Map();
  for (const line of `${tsc.stdout}${tsc.stderr}`.split("\n")) {
    const m = /^(?:.*\/)?([^/(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line);
    if (!m) {
      if (line.trim() && tsc.status !== 0 && !/^\s/.test(line)) failures.set(line, [line]);
      continue;
    }
    const o = origin.get(m[1]);
    if (!o) {
      failures.set(m[1], [...(failures.get(m[1]) ?? []), line]);
      continue;
    }
    const at = `${o.file}:${o.line + Number(m[2]) - 1 - o.headerLines}`;
    failures.set(m[1], [...(failures.get(m[1]) ?? []), `${at}: ${m[4]}`]);
  }
  for (const lines of failures.values()) for (const l of lines) console.log(`✘ ${l}`);
  const failed = failures.size;
  console.log(`doc-examples: ${origin.size - [...failures.keys()].filter((k) => origin.has(k)).length} passed, ${failed} failed`);
  if (failed > 0 || tsc.status !== 0) process.exit(1);
}

main();
