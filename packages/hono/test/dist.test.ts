/**
 * The built package (run `pnpm build` first; the root `pnpm test` does): ESM
 * and CJS entry points export the same adapter, and it serves GetCACaps.
 */
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { describe, expect, it } from "vitest";
import { close, createFixture, listen } from "../../core/test/support/adapter-fixture.js";

describe("@scep/hono dist", () => {
  it("exports scepHandler and scepApp from dist/index.js and dist/index.cjs", async () => {
    const esm = (await import("../dist/index.js")) as typeof import("../src/index.js");
    const cjs = createRequire(import.meta.url)("../dist/index.cjs") as typeof import("../src/index.js");
    expect(Object.keys(esm).sort()).toEqual(["scepApp", "scepHandler"]);
    expect(Object.keys(cjs).sort()).toEqual(["scepApp", "scepHandler"]);
    const fx = await createFixture();
    const app = esm.scepApp(fx.server);
    const http = createServer(getRequestListener(app.fetch));
    const base = await listen(http);
    try {
      expect(await (await fetch(`${base}/scep?operation=GetCACaps`)).text()).toContain("SCEPStandard");
    } finally {
      await close(http);
    }
  });
});
