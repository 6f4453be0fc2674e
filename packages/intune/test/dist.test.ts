/**
 * The built package (run `pnpm build` first; the root `pnpm test` does): the
 * ESM and CJS builds of both entry points export what the sources export, and
 * the built validator accepts certctl's golden token and refuses the tampered
 * one, with errors a `src` guard recognises.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import * as src from "../src/index.js";
import * as srcTesting from "../src/testing/index.js";
import { csrWith } from "./support/tokens.js";

type Intune = typeof import("../src/index.js");
const here = dirname(fileURLToPath(import.meta.url));
const golden = (name: string): string => readFileSync(join(here, "vectors/certctl-golden", name), "utf8");
const builds = {} as Record<"esm" | "cjs", Intune>;
const exportsOf = (m: object): string[] => Object.keys(m).filter((k) => k !== "default" && k !== "module.exports").sort();

beforeAll(async () => {
  for (const f of ["index.js", "index.cjs", "testing.js", "testing.cjs"]) {
    if (!existsSync(join(here, "../dist", f))) throw new Error(`packages/intune/dist/${f} is missing: run \`pnpm build\` before this test`);
  }
  builds.esm = (await import("../dist/index.js")) as unknown as Intune;
  builds.cjs = createRequire(import.meta.url)("../dist/index.cjs") as unknown as Intune;
});

describe("@scep/intune dist", () => {
  it("index: ESM and CJS export exactly what src/index.ts exports", () => {
    expect(exportsOf(builds.esm)).toEqual(exportsOf(src));
    expect(exportsOf(builds.cjs)).toEqual(exportsOf(src));
  });

  // The CJS build of ./testing exists for CommonJS type resolution; vitest itself refuses require().
  it("testing: the ESM build exports exactly what src/testing/index.ts exports", async () => {
    const esm = (await import("../dist/testing.js")) as object;
    expect(exportsOf(esm)).toEqual(exportsOf(srcTesting));
    expect(exportsOf(esm)).toEqual(["rateLimiterConformance", "replayCacheConformance"]);
  });

  it.each(["esm", "cjs"] as const)("%s: the golden token verifies, the tampered one is signature_invalid", async (format) => {
    const m = builds[format];
    const now = (): Date => new Date("2026-01-01T12:01:00Z");
    const v = new m.SignedTokenValidator({ trustAnchors: m.TrustAnchorPool.fromPem(golden("intune_trust_anchor.pem"), { now }), audience: "https://certctl.example.com/scep/test", now });
    const csr = await csrWith(undefined, "CN=fixture-device.example.com", { dns: ["fixture-device.example.com"], email: ["fixture-user@example.com"] });
    const request = { transactionId: "dist" };
    expect(await v.validate({ challenge: golden("intune_challenge_golden_success.txt").trim(), csr, request })).toMatchObject({ ok: true });
    expect(await v.validate({ challenge: golden("intune_challenge_golden_tampered_sig.txt").trim(), csr, request })).toMatchObject({ ok: false, reason: "signature_invalid", failInfo: "badMessageCheck" });
    const e = (() => { try { m.TrustAnchorPool.fromPem("", { now }); } catch (x) { return x; } })();
    expect(e).not.toBeInstanceOf(src.IntuneError);
    expect(src.isIntuneError(e)).toBe(true);
    expect(e).toMatchObject({ name: "TrustAnchorError", code: "ERR_TRUST_ANCHORS" });
  });
});
