/**
 * GET PKIOperation `message` spellings through @scep/express over real HTTP (RFC 8894 §4.3, INTEROP quirk 1):
 * literal `+` (fleet#45291), raw `/` (smallstep#1570), %0A lines (micromdm#100), URL-safe base64 (micromdm#249),
 * `%20` for `+` (iOS). The suite and its field reports: core's test/support/get-message-spellings.ts.
 */
import express5 from "express";
import { scepMiddleware } from "../src/index.js";
import { getMessageSpellingsSuite } from "../../core/test/support/get-message-spellings.js";

getMessageSpellingsSuite("Express", (fx) => {
  const app = express5();
  app.use(express5.urlencoded({ extended: false }));
  app.use(scepMiddleware(fx.server));
  return app;
});
