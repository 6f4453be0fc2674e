/**
 * A proxy event says when its request arrived (`time`, the proxy's clock as it began to answer) and which address it
 * came from (`clientAddress`, what the adapter passed as `info.remoteAddress`): a real HTTP request over loopback
 * through `@scep/express` and through `@scep/hono` on `@hono/node-server` gives 127.0.0.1 and a time within the
 * request's window; `fetch` without `info` gives no `clientAddress`. Neither is counted in the stats.
 */
import { createServer, type Server } from "node:http";
import { MemoryChallengeStore } from "@scep/core";
import { scepMiddleware } from "@scep/express";
import { scepHandler } from "@scep/hono";
import { getRequestListener } from "@hono/node-server";
import express from "express";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { close, eventOfRequest, listen } from "../../core/test/support/adapter-fixture.js";
import { MemoryCaRegistry, MemoryProfileStore, createScepProxy, type ProxyEvent, type ScepProxy } from "../src/index.js";

const events: ProxyEvent[] = [];
let proxy: ScepProxy;
beforeAll(() => {
  proxy = createScepProxy({
    basePath: "/scep",
    profiles: new MemoryProfileStore(),
    cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: "http://127.0.0.1:9/never-called" }]),
    challenges: new MemoryChallengeStore(),
    onEvent: (e) => void events.push(e),
  });
});

describe.each([
  ["@scep/express", (p: ScepProxy) => createServer(express().use(scepMiddleware(p)))],
  ["@scep/hono on @hono/node-server", (p: ScepProxy) => createServer(getRequestListener(new Hono().use(scepHandler(p)).fetch))],
])("through %s", (_name, make) => {
  let http: Server;
  let base: string;
  beforeAll(async () => {
    http = make(proxy);
    base = await listen(http);
  });
  afterAll(() => close(http));

  it("a refused request's event: clientAddress 127.0.0.1, time within the request's window", async () => {
    const event = await eventOfRequest(events, async () => (await fetch(`${base}/scep/not-an-identifier?operation=GetCACaps`)).text());
    expect(event).toMatchObject({ reason: "invalid_identifier", status: 400, clientAddress: "127.0.0.1" });
  });
});

describe("fetch called directly", () => {
  it("without info: no clientAddress; the time is the injected clock's; stats never hold the address", async () => {
    const at = new Date("2026-03-01T10:00:00.123Z");
    const seen: ProxyEvent[] = [];
    const p = createScepProxy({ basePath: "/scep", profiles: new MemoryProfileStore(), cas: new MemoryCaRegistry([]), now: () => at, onEvent: (e) => void seen.push(e) });
    await p.fetch(new Request("http://proxy.test/scep/x?operation=GetCACaps"));
    await p.fetch(new Request("http://proxy.test/scep/x?operation=GetCACaps"), { remoteAddress: "192.0.2.44" });
    expect(seen.map((e) => [e.time, Object.hasOwn(e, "clientAddress") ? e.clientAddress : "absent"])).toEqual([
      [at, "absent"],
      [at, "192.0.2.44"],
    ]);
    expect(JSON.stringify(p.stats())).not.toContain("192.0.2.44");
  });
});

describe("fetch with a clock that throws", () => {
  it("still answers and reports: the event's time falls back to the system clock, fetch never rejects", async () => {
    const seen: ProxyEvent[] = [];
    const p = createScepProxy({
      basePath: "/scep",
      profiles: new MemoryProfileStore(),
      cas: new MemoryCaRegistry([]),
      now: () => {
        throw new Error("clock source down");
      },
      onEvent: (e) => void seen.push(e),
      logger: { error: () => undefined },
    });
    const before = Date.now();
    const res = await p.fetch(new Request("http://proxy.test/scep/not-an-identifier?operation=GetCACaps"));
    expect(res.status).toBe(400);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.reason).toBe("invalid_identifier");
    expect(seen[0]!.time.getTime()).toBeGreaterThanOrEqual(before);
    expect(seen[0]!.time.getTime()).toBeLessThanOrEqual(Date.now());
  });
});
