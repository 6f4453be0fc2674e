/**
 * Reading the client's address never fails a request: on @hono/node-server, a `remoteAddress` reader that throws, or
 * returns something other than a string, leaves the request answered as if no address were known (the same status,
 * an event without `clientAddress`, no 500, no unhandled rejection), through `handle` (a GET) and through `fetch` (a
 * chunked POST), for `scepHandler` and `scepApp`.
 */
import { createServer, request as httpRequest, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientAddressReader, scepApp, scepHandler } from "../src/index.js";
import { close, createFixture, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";
import { unhandledRejectionsDuring } from "../../core/test/support/unhandled.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});

/** A POST of `body` with `Transfer-Encoding: chunked` (no Content-Length: the adapter streams it through `fetch`); resolves the status. */
function postChunked(url: string, body: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers: { "content-type": "application/x-pki-message", "transfer-encoding": "chunked" } }, (res) => {
      res.resume().on("end", () => resolve(res.statusCode!));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const readers: [string, ClientAddressReader][] = [
  [
    "a reader that throws",
    () => {
      throw new Error("no connection info on this runtime");
    },
  ],
  ["a reader returning a number", () => 42 as unknown as string],
  ["a reader returning an object", () => ({ address: "127.0.0.1" }) as unknown as string],
];

describe.each([
  ["scepHandler", (f: Fixture, r: ClientAddressReader) => new Hono().use(scepHandler(f.server, { remoteAddress: r }))],
  ["scepApp", (f: Fixture, r: ClientAddressReader) => scepApp(f.server, { remoteAddress: r })],
])("%s on @hono/node-server", (_name, makeApp) => {
  describe.each(readers)("with %s", (_reader, reader) => {
    let http: Server;
    let base: string;
    beforeAll(async () => {
      http = createServer(getRequestListener(makeApp(fx, reader).fetch));
      base = await listen(http);
    });
    afterAll(() => close(http));

    it("a GET (through handle) is answered 200; its event has no clientAddress", async () => {
      const unhandled = await unhandledRejectionsDuring(async () => {
        const res = await fetch(`${base}/scep?operation=GetCACaps`);
        expect(res.status).toBe(200);
        expect((await res.text()).split("\n")).toContain("SCEPStandard");
      });
      expect(unhandled).toEqual([]);
      expect(fx.events.at(-1)).toMatchObject({ operation: "GetCACaps", outcome: "success", status: 200 });
      expect(Object.hasOwn(fx.events.at(-1)!, "clientAddress")).toBe(false);
    });

    it("a chunked POST (through fetch) gets the server's own 400; its event has no clientAddress", async () => {
      const unhandled = await unhandledRejectionsDuring(async () => {
        expect(await postChunked(`${base}/scep?operation=PKIOperation`, new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toBe(400);
      });
      expect(unhandled).toEqual([]);
      expect(fx.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", status: 400 });
      expect(Object.hasOwn(fx.events.at(-1)!, "clientAddress")).toBe(false);
    });
  });
});
