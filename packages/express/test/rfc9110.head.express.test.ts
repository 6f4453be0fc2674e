/**
 * RFC 9110 §9.3.2: a HEAD request gets the header fields a GET of the same target would, Content-Length included,
 * and no content (the targets: core's test/support/head-vs-get.ts). Through Express over a real socket, for the
 * SCEP server offered with `handle` (the plain-parts path) and with `fetch` only (the web-standard path), and for
 * another fetch handler that answers HEAD with the GET's content.
 */
import { createServer, type Server } from "node:http";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchHandler } from "@scep/core";
import { scepMiddleware } from "../src/index.js";
import { describeHeadLikeGet } from "../../core/test/support/head-vs-get.js";
import { close, listen } from "../../core/test/support/adapter-fixture.js";

describeHeadLikeGet("@scep/express", (handler) => {
  const app = express();
  app.use(scepMiddleware(handler));
  return app;
});

describe("HEAD of another fetch handler through @scep/express (RFC 9110 §9.3.2)", () => {
  // A handler that answers HEAD as it answers GET (a page, a probe: most web handlers do) gives the GET's content and
  // no Content-Length; the adapter drops the content and keeps its length.
  const page: FetchHandler = { owns: (path) => path === "/page", fetch: async () => new Response("<p>page</p>\n", { headers: { "content-type": "text/html" } }) };
  let http: Server;
  let base: string;
  beforeAll(async () => {
    const app = express();
    app.use(scepMiddleware(page));
    http = createServer(app);
    base = await listen(http);
  });
  afterAll(() => close(http));

  it("HEAD gets the GET's Content-Length and no content", async () => {
    const get = await fetch(`${base}/page`);
    const head = await fetch(`${base}/page`, { method: "HEAD" });
    expect(await get.text()).toBe("<p>page</p>\n");
    expect(get.headers.get("content-length")).toBe("12");
    expect([head.status, head.headers.get("content-type"), head.headers.get("content-length"), await head.text()]).toEqual([200, "text/html", "12", ""]);
  });
});
