/**
 * RFC 9110 §9.3.2: a HEAD request gets the header fields a GET of the same target would, Content-Length included,
 * and no content. Through Express over a real socket, for the SCEP server offered with `handle` (the plain-parts
 * path) and with `fetch` only (the web-standard path): GetCACaps, GetCACert, GetNextCACert (404 without a next CA),
 * and the 400s of a GET without an operation, with an unknown one, and with a PKIOperation message that is no base64.
 */
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchHandler } from "@scep/core";
import { scepMiddleware } from "../src/index.js";
import { close, createFixture, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fx: Fixture;
const servers: Server[] = [];
const ports: Record<"handle" | "fetch", number> = { handle: 0, fetch: 0 };

async function serve(handler: FetchHandler): Promise<number> {
  const app = express();
  app.use(scepMiddleware(handler));
  const http = createServer(app);
  servers.push(http);
  return Number(new URL(await listen(http)).port);
}

beforeAll(async () => {
  fx = await createFixture();
  const s = fx.server;
  ports.handle = await serve(s);
  ports.fetch = await serve({ owns: (path) => s.owns(path), fetch: (r) => s.fetch(r) });
});
afterAll(async () => {
  for (const http of servers) await close(http);
});

/** One exchange on its own connection: status, header fields (without Date, Connection, Keep-Alive), body bytes. */
function exchange(port: number, method: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, agent: false });
    req.on("error", reject).on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
        const { date, connection, "keep-alive": _k, ...rest } = res.headers;
        resolve({ status: res.statusCode!, headers: rest, body: Buffer.concat(chunks) });
      });
    });
    req.end();
  });
}

const TARGETS = ["/scep?operation=GetCACaps", "/scep?operation=GetCACert", "/scep/pkiclient.exe?operation=GetCACert", "/scep?operation=GetNextCACert", "/scep", "/scep?operation=Nope", "/scep?operation=PKIOperation&message=%%%"];

describe("HEAD through @scep/express (RFC 9110 §9.3.2)", () => {
  for (const path of ["handle", "fetch"] as const) {
    it(`${path} path: the GET's header fields with its Content-Length, no content`, async () => {
      for (const target of TARGETS) {
        const get = await exchange(ports[path], "GET", target);
        const head = await exchange(ports[path], "HEAD", target);
        expect(get.body.length).toBeGreaterThan(0);
        expect({ target, length: get.headers["content-length"] }).toEqual({ target, length: String(get.body.length) });
        expect({ target, status: head.status, headers: head.headers, body: head.body.length }).toEqual({ target, status: get.status, headers: get.headers, body: 0 });
      }
    });
  }
});
