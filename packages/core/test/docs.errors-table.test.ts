/**
 * The package README's "Errors" table names every error class the package
 * exports, with its code and default failInfo: five codes were missing from it
 * (ERR_KEY_PASSPHRASE, ERR_CA_PIN_MISMATCH, ERR_TRANSACTION_STATE,
 * ERR_STORE_UNAVAILABLE, and the new ERR_ISSUE_HOOK) before this test.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as core from "../src/index.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const section = readme.slice(readme.indexOf("\n## Errors\n"), readme.indexOf("\n## ", readme.indexOf("\n## Errors\n") + 1));
/** code → [class, failInfo] from the table's rows. */
const rows = new Map(
  [...section.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \| `(\w+)` \| `(\w+)` \|/gm)].map((m) => [m[1]!, [m[2]!, m[3]!] as const]),
);

/** Every exported class that extends ScepError, with its static code and failInfo. */
const classes = Object.entries(core).filter(
  (e): e is [string, typeof core.ScepError] => typeof e[1] === "function" && e[1].prototype instanceof core.ScepError,
);

describe("README Errors table", () => {
  it("lists every exported ScepError class with its code and default failInfo, and nothing else", () => {
    expect(classes.length).toBeGreaterThan(20);
    const expected = new Map(classes.map(([name, cls]) => [cls.code, [name, cls.failInfo] as const]));
    expect(new Map([...rows].sort())).toEqual(new Map([...expected].sort()));
  });
});
