/**
 * The built package (run `pnpm build` first; the root `pnpm test` does): ESM
 * and CJS entry points export the same middleware, and it serves GetCACaps.
 */
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { close, createFixture, listen } from "../../core/test/support/adapter-fixture.js";

describe("@scep/express dist", () => {
  it("exports scepMiddleware from dist/index.js and dist/index.cjs", async () => {
    const esm = (await import("../dist/index.js")) as typeof import("../src/index.js");
    const cjs = createRequire(import.meta.url)("../dist/index.cjs") as typeof import("../src/index.js");
    expect(Object.keys(esm).sort()).toEqual(["scepMiddleware"]);
    expect(Object.keys(cjs).sort()).toEqual(["scepMiddleware"]);
    const fx = await createFixture();
    const mw = esm.scepMiddleware(fx.server);
    const http = createServer((req, res) => mw(req, res, () => res.writeHead(404).end()));
    const base = await listen(http);
    try {
      expect(await (await fetch(`${base}/scep?operation=GetCACaps`)).text()).toContain("SCEPStandard");
    } finally {
      await close(http);
    }
  });
});
