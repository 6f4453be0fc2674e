/**
 * scripts/node-matrix.mjs runs, on the other Node majors, every package of `packages/` (by its vitest project) and
 * the CLI and quick start: derived from the tree, so a new package is not silently left out (the list was kept by
 * hand). Checked on the real tree and on a copy of the script in a small tree of its own, through `--list`, which
 * runs no vitest.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const script = join(root, "scripts", "node-matrix.mjs");
const tmp = mkdtempSync(join(tmpdir(), "node-matrix-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function list(scriptPath: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [scriptPath, "--list"], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A repository of `dirs` (path → vitest project name, or null: a package.json and no vitest config), with the script. */
function tree(name: string, dirs: Record<string, string | null>): string {
  const at = join(tmp, name);
  for (const [dir, project] of Object.entries(dirs)) {
    mkdirSync(join(at, dir), { recursive: true });
    writeFileSync(join(at, dir, "package.json"), "{}\n");
    if (project !== null) writeFileSync(join(at, dir, "vitest.config.ts"), `export default defineProject({ test: { name: "${project}" } });\n`);
  }
  mkdirSync(join(at, "scripts"));
  copyFileSync(script, join(at, "scripts", "node-matrix.mjs"));
  return join(at, "scripts", "node-matrix.mjs");
}

describe("node-matrix.mjs --list", () => {
  it("this repository: each package's project, then the CLI and the quick start", () => {
    expect(list(script)).toEqual({ status: 0, stdout: "core\nexpress\nhono\nintune\nproxy\nredis\ncli\nquick-start\n", stderr: "" });
  });

  it("a new package is in the list; a directory without package.json is not; examples other than cli and quick-start are not", () => {
    const at = tree("added", { "packages/core": "core", "packages/zeta-store": "zeta", "examples/cli": "cli", "examples/quick-start": "quick-start", "examples/express-server": "express-server" });
    mkdirSync(join(dirname(dirname(at)), "packages", "notes"));
    expect(list(at)).toEqual({ status: 0, stdout: "core\nzeta\ncli\nquick-start\n", stderr: "" });
  });

  it("a package without a vitest project: exit 1 naming it, not a run that leaves it out", () => {
    const at = tree("untested", { "packages/core": "core", "packages/bare": null, "examples/cli": "cli", "examples/quick-start": "quick-start" });
    const r = list(at);
    expect([r.status, r.stdout]).toEqual([1, ""]);
    expect(r.stderr).toMatch(/^node-matrix: .*packages\/bare has no vitest config/);
  });
});
