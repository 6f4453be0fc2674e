/**
 * @scep/express passes the client's address to the handler: the SCEP server's event for a real HTTP request over
 * loopback carries `clientAddress` 127.0.0.1 and a `time` within the request's window, on Express 5, Express 4 and a
 * bare node:http server, through `handle` and (a handler without it) through `fetch`. On Express the address is
 * `req.ip`, so the app's `trust proxy` setting decides whether `X-Forwarded-For` counts.
 */
import { createServer, type Server } from "node:http";
import express5 from "express";
import express4 from "express4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchHandler } from "./support/core.js";
import { scepMiddleware } from "../src/index.js";
import { close, createFixture, eventOfRequest, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});

/** The server seen only through `fetch` (the middleware's path for handlers without `handle`). */
const fetchOnly = (f: Fixture): FetchHandler => ({ owns: (p) => f.server.owns(p), fetch: (request, info) => f.server.fetch(request, info) });

const servers: [string, (f: Fixture) => Server][] = [
  ["express 5", (f) => createServer(express5().use(scepMiddleware(f.server)))],
  ["express 4", (f) => createServer(express4().use(scepMiddleware(f.server)))],
  ["node:http", (f) => createServer((req, res) => scepMiddleware(f.server)(req, res, () => res.writeHead(404).end()))],
  ["express 5, a handler without handle", (f) => createServer(express5().use(scepMiddleware(fetchOnly(f))))],
  ["node:http, a handler without handle", (f) => createServer((req, res) => scepMiddleware(fetchOnly(f))(req, res, () => res.writeHead(404).end()))],
];

describe.each(servers)("scepMiddleware on %s", (_name, make) => {
  let http: Server;
  let base: string;
  beforeAll(async () => {
    http = make(fx);
    base = await listen(http);
  });
  afterAll(() => close(http));

  it("the event of a real request: clientAddress 127.0.0.1, time within the request's window", async () => {
    const event = await eventOfRequest(fx.events, async () => (await fetch(`${base}/scep?operation=GetCACaps`, { headers: { "x-forwarded-for": "203.0.113.5" } })).text());
    // X-Forwarded-For is not taken: no proxy is trusted.
    expect(event).toMatchObject({ operation: "GetCACaps", outcome: "success", status: 200, clientAddress: "127.0.0.1" });
  });
});

describe("trust proxy", () => {
  it.each([
    ["express 5", () => express5()],
    ["express 4", () => express4()],
  ])("%s with trust proxy 'loopback': clientAddress is the X-Forwarded-For client (req.ip)", async (_name, makeApp) => {
    const app = makeApp();
    app.set("trust proxy", "loopback");
    app.use(scepMiddleware(fx.server));
    const http = createServer(app);
    const base = await listen(http);
    try {
      await (await fetch(`${base}/scep?operation=GetCACaps`, { headers: { "x-forwarded-for": "203.0.113.5" } })).text();
      expect(fx.events.at(-1)).toMatchObject({ operation: "GetCACaps", clientAddress: "203.0.113.5" });
    } finally {
      await close(http);
    }
  });
});
