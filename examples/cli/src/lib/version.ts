/**
 * The CLI's version, from its own package.json: the nearest one above this
 * module, which is `examples/cli/package.json` when run from `src/` and the
 * installed package's when run from the bundled `dist/scep.js`.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The `version` of the nearest package.json above this module. */
export function cliVersion(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version?: string }).version ?? "0.0.0";
    if (dirname(dir) === dir) return "0.0.0";
  }
}
