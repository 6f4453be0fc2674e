/**
 * The CLI's version, read from its package.json (next to `src/` and `dist/`).
 *
 * @module
 */
import { readFileSync } from "node:fs";

/** The `version` of this package's package.json. */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
  return pkg.version ?? "0.0.0";
}
