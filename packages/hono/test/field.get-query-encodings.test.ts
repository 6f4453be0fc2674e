/**
 * GET PKIOperation `message` spellings through @scep/hono (on @hono/node-server) over real HTTP (RFC 8894 §4.3,
 * INTEROP quirk 1): literal `+` (fleet#45291), raw `/` (smallstep#1570), %0A lines (micromdm#100), URL-safe base64
 * (micromdm#249), `%20` for `+` (iOS). The suite and its field reports: core's test/support/get-message-spellings.ts.
 */
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { scepHandler } from "../src/index.js";
import { getMessageSpellingsSuite } from "../../core/test/support/get-message-spellings.js";

getMessageSpellingsSuite("Hono", (fx) => {
  const app = new Hono();
  app.use(scepHandler(fx.server));
  return getRequestListener(app.fetch);
});
