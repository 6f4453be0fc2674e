/**
 * @scep/hono passes the client's address to the handler: served by @hono/node-server, the SCEP server's event for a
 * real HTTP request over loopback carries `clientAddress` 127.0.0.1 (the TCP peer, `c.env.incoming.socket`) and a
 * `time` within the request's window, through `handle` (GET, a declared Content-Length) and through `fetch` (a chunked
 * body), for `scepHandler` and `scepApp`. The `remoteAddress` option reads it from the Context instead; without
 * @hono/node-server (`app.request()`) the default finds none and the event has no `clientAddress`.
 */
import { createServer, request as httpRequest, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scepApp, scepHandler } from "../src/index.js";
import { close, createFixture, eventOfRequest, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});

/** A POST of `body` with `Transfer-Encoding: chunked` (no Content-Length: the adapter streams it through `fetch`). */
function postChunked(url: string, body: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers: { "content-type": "application/x-pki-message", "transfer-encoding": "chunked" } }, (res) => {
      res.resume().on("end", () => resolve());
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe.each([
  ["scepHandler", () => new Hono().use(scepHandler(fx.server))],
  ["scepApp", () => scepApp(fx.server)],
])("%s on @hono/node-server", (_name, makeApp) => {
  let http: Server;
  let base: string;
  beforeAll(async () => {
    http = createServer(getRequestListener(makeApp().fetch));
    base = await listen(http);
  });
  afterAll(() => close(http));

  it("a GET (through handle): clientAddress 127.0.0.1, time within the request's window", async () => {
    const event = await eventOfRequest(fx.events, async () => (await fetch(`${base}/scep?operation=GetCACaps`)).text());
    expect(event).toMatchObject({ operation: "GetCACaps", outcome: "success", status: 200, clientAddress: "127.0.0.1" });
  });

  it("a chunked POST (through fetch): the same", async () => {
    const event = await eventOfRequest(fx.events, () => postChunked(`${base}/scep?operation=PKIOperation`, new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])));
    expect(event).toMatchObject({ operation: "PKIOperation", outcome: "rejected", status: 400, clientAddress: "127.0.0.1" });
  });
});

describe("the remoteAddress option", () => {
  it("reads the address from the Context instead (here a header a trusted proxy would set)", async () => {
    const app = new Hono().use(scepHandler(fx.server, { remoteAddress: (c) => c.req.header("x-real-ip") }));
    const http = createServer(getRequestListener(app.fetch));
    const base = await listen(http);
    try {
      await (await fetch(`${base}/scep?operation=GetCACaps`, { headers: { "x-real-ip": "198.51.100.23" } })).text();
      expect(fx.events.at(-1)).toMatchObject({ operation: "GetCACaps", clientAddress: "198.51.100.23" });
    } finally {
      await close(http);
    }
    await scepApp(fx.server, { remoteAddress: () => "2001:db8::1" }).request("/scep?operation=GetCACaps");
    expect(fx.events.at(-1)!.clientAddress).toBe("2001:db8::1");
  });

  it("without @hono/node-server (app.request(), no c.env.incoming) the default finds none: no clientAddress", async () => {
    await new Hono().use(scepHandler(fx.server)).request("/scep?operation=GetCACaps");
    expect(Object.hasOwn(fx.events.at(-1)!, "clientAddress")).toBe(false);
    await scepApp(fx.server).request("/scep?operation=GetCACaps", {}, { incoming: "not a request" });
    expect(Object.hasOwn(fx.events.at(-1)!, "clientAddress")).toBe(false);
  });
});
