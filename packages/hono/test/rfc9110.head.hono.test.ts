/**
 * RFC 9110 §9.3.2: a HEAD request gets the header fields a GET of the same target would, Content-Length included,
 * and no content (the targets: core's test/support/head-vs-get.ts). Through Hono on @hono/node-server over a real
 * socket, for the SCEP server offered with `handle` (the plain-parts path) and with `fetch` only (the web-standard
 * path).
 */
import { createServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { FetchHandler } from "@scep/core";
import { scepHandler } from "../src/index.js";
import { close, createFixture, listen } from "../../core/test/support/adapter-fixture.js";
import { expectHeadLikeGet } from "../../core/test/support/head-vs-get.js";

const servers: Server[] = [];
const ports: Record<"handle" | "fetch", number> = { handle: 0, fetch: 0 };

async function serve(handler: FetchHandler): Promise<number> {
  const app = new Hono();
  app.use(scepHandler(handler));
  const http = createServer(getRequestListener(app.fetch));
  servers.push(http);
  return Number(new URL(await listen(http)).port);
}

beforeAll(async () => {
  const s = (await createFixture()).server;
  ports.handle = await serve(s);
  ports.fetch = await serve({ owns: (path) => s.owns(path), fetch: (r) => s.fetch(r) });
});
afterAll(async () => {
  for (const http of servers) await close(http);
});

describe("HEAD through @scep/hono (RFC 9110 §9.3.2)", () => {
  for (const path of ["handle", "fetch"] as const) {
    it(`${path} path: the GET's header fields with its Content-Length, no content`, () => expectHeadLikeGet(ports[path]));
  }
});
