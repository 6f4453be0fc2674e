/**
 * Reading the client's address never fails a request: an Express app whose `trust proxy` setting is a function that
 * throws makes `req.ip` throw (for a request with `X-Forwarded-For`, whose hops it asks the function about); the
 * middleware then answers as if no address were known (the same status, an event without `clientAddress`, no 500,
 * nothing passed to `next(error)`, no unhandled rejection), on Express 5 and 4, through `handle` and (a handler
 * without it) through `fetch`. Real HTTP requests over loopback.
 */
import { createServer, type Server } from "node:http";
import express5 from "express";
import express4 from "express4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchHandler } from "./support/core.js";
import { scepMiddleware } from "../src/index.js";
import { close, createFixture, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";
import { unhandledRejectionsDuring } from "../../core/test/support/unhandled.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});

const fetchOnly = (f: Fixture): FetchHandler => ({ owns: (p) => f.server.owns(p), fetch: (request, info) => f.server.fetch(request, info) });
const throwingTrust = (): boolean => {
  throw new Error("trust list unavailable");
};

describe.each([
  ["express 5", () => express5(), (f: Fixture) => f.server as FetchHandler],
  ["express 4", () => express4(), (f: Fixture) => f.server as FetchHandler],
  ["express 5, a handler without handle", () => express5(), fetchOnly],
  ["express 4, a handler without handle", () => express4(), fetchOnly],
])("%s with a trust proxy function that throws", (_name, makeApp, handlerOf) => {
  let http: Server;
  let base: string;
  const errors: unknown[] = [];
  beforeAll(async () => {
    const app = makeApp();
    app.set("trust proxy", throwingTrust);
    app.use(scepMiddleware(handlerOf(fx)));
    app.use((error: unknown, _req: unknown, res: { status(n: number): { end(): void } }, _next: unknown) => {
      errors.push(error);
      res.status(500).end();
    });
    http = createServer(app);
    base = await listen(http);
  });
  afterAll(() => close(http));

  it("a GET is answered 200 and a bad POST 400; the events have no clientAddress; next(error) is never called", async () => {
    const unhandled = await unhandledRejectionsDuring(async () => {
      const caps = await fetch(`${base}/scep?operation=GetCACaps`, { headers: { "x-forwarded-for": "203.0.113.5" } });
      expect(caps.status).toBe(200);
      expect((await caps.text()).split("\n")).toContain("SCEPStandard");
      const refused = await fetch(`${base}/scep?operation=PKIOperation`, { method: "POST", headers: { "content-type": "application/x-pki-message", "x-forwarded-for": "203.0.113.5" }, body: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) });
      await refused.text();
      expect(refused.status).toBe(400);
    });
    expect(unhandled).toEqual([]);
    expect(errors).toEqual([]);
    const [caps, refused] = fx.events.slice(-2);
    expect(caps).toMatchObject({ operation: "GetCACaps", outcome: "success", status: 200 });
    expect(refused).toMatchObject({ operation: "PKIOperation", outcome: "rejected", status: 400 });
    expect([caps, refused].map((e) => Object.hasOwn(e!, "clientAddress"))).toEqual([false, false]);
  });
});
