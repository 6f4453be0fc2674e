/**
 * The built package (run `pnpm build` first; the root `pnpm test` does): the
 * ESM and CJS builds of both entry points export what the sources export,
 * and the built identifier functions round-trip and throw errors a `src`
 * guard recognises.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import * as src from "../src/index.js";
import * as srcTesting from "../src/testing/index.js";

type Proxy = typeof import("../src/index.js");
const here = dirname(fileURLToPath(import.meta.url));
const builds = {} as Record<"esm" | "cjs", Proxy>;
const exportsOf = (m: object): string[] => Object.keys(m).filter((k) => k !== "default" && k !== "module.exports").sort();

beforeAll(async () => {
  for (const f of ["index.js", "index.cjs", "testing.js", "testing.cjs"]) {
    if (!existsSync(join(here, "../dist", f))) throw new Error(`packages/proxy/dist/${f} is missing: run \`pnpm build\` before this test`);
  }
  builds.esm = (await import("../dist/index.js")) as unknown as Proxy;
  builds.cjs = createRequire(import.meta.url)("../dist/index.cjs") as unknown as Proxy;
});

describe("@scep/proxy dist", () => {
  it("index: ESM and CJS export exactly what src/index.ts exports", () => {
    expect(exportsOf(builds.esm)).toEqual(exportsOf(src));
    expect(exportsOf(builds.cjs)).toEqual(exportsOf(src));
  });

  // The CJS build of ./testing exists for CommonJS type resolution; vitest itself refuses require().
  it("testing: the ESM build exports exactly what src/testing/index.ts exports", async () => {
    const esm = (await import("../dist/testing.js")) as object;
    expect(exportsOf(esm)).toEqual(exportsOf(srcTesting));
  });

  it.each(["esm", "cjs"] as const)("%s: identifiers round-trip; a bad one is an IdentifierError src recognises", (format) => {
    const m = builds[format];
    const id = { hostId: "host 1", profileId: "wifi,eap", caName: "corp", challenge: "a+b/c" };
    expect(m.parseIdentifier(m.buildIdentifier(id))).toStrictEqual(id);
    const e = (() => { try { m.parseIdentifier("h%zz,p"); } catch (x) { return x; } })();
    expect(e).not.toBeInstanceOf(src.IdentifierError);
    expect(src.isProxyError(e)).toBe(true);
    expect(e).toMatchObject({ name: "IdentifierError", code: "ERR_PROXY_IDENTIFIER", reason: "bad_encoding" });
  });
});
