/**
 * RFC 9110 §9.3.2: a HEAD request gets the header fields a GET of the same target would, Content-Length included,
 * and no content (the targets: core's test/support/head-vs-get.ts). Through Express over a real socket, for the
 * SCEP server offered with `handle` (the plain-parts path) and with `fetch` only (the web-standard path).
 */
import express from "express";
import { scepMiddleware } from "../src/index.js";
import { describeHeadLikeGet } from "../../core/test/support/head-vs-get.js";

describeHeadLikeGet("@scep/express", (handler) => {
  const app = express();
  app.use(scepMiddleware(handler));
  return app;
});
