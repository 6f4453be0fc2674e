/**
 * `ScepEvent.time` and `ScepEvent.clientAddress`: every event says when its request arrived (the server's clock as it
 * began to answer, not when the event left) and, when the caller of `fetch`/`handle` passed `info.remoteAddress`, the
 * client's address, so an operator can tie a failed enrollment to a device's address and order the events of several
 * replicas. Driven by real HTTP requests over loopback to a `node:http` server that hands them to `fetch` and `handle`.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, type ScepEvent, type ScepServer } from "../src/index.js";
import { eventOfRequest } from "./support/adapter-fixture.js";
import { NOW, createDevice, createTestCa, eventLog, getOp, issuingHook, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa("Event Address CA");
});

function scepServer(onEvent: (e: ScepEvent) => void, now?: () => Date): ScepServer {
  return createScepServer({
    profiles: [{ name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca) }],
    onEvent,
    ...(now ? { now } : {}),
  });
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A node:http server on 127.0.0.1 answering through `server.fetch` (or `server.handle`), with the socket's peer address. */
async function listen(server: ScepServer, via: "fetch" | "handle"): Promise<{ http: Server; origin: string }> {
  const http = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const info = { remoteAddress: req.socket.remoteAddress };
      const method = req.method ?? "GET";
      if (via === "handle") {
        const r = await server.handle({ method, url: req.url ?? "/", headers: req.headers, body }, info);
        return void res.writeHead(r.status, { ...r.headers, "content-length": r.body.length }).end(r.body);
      }
      const request = new Request(`http://localhost${req.url ?? "/"}`, { method, ...(body.length ? { body: new Uint8Array(body) } : {}) });
      const response = await server.fetch(request, info);
      res.writeHead(response.status, { "content-type": response.headers.get("content-type") ?? "text/plain" }).end(Buffer.from(await response.arrayBuffer()));
    })();
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { http, origin: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

describe("an event from a real HTTP request carries its time and the client's address", () => {
  const servers: Server[] = [];
  afterAll(async () => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

  for (const via of ["fetch", "handle"] as const) {
    it(`through ${via}: clientAddress is the loopback peer, time lies within the request's window`, async () => {
      const log = eventLog();
      const { http, origin } = await listen(scepServer(log.onEvent), via);
      servers.push(http);
      const event = await eventOfRequest(log.events, async () => (await fetch(`${origin}/scep?operation=GetCACaps`)).arrayBuffer());
      expect(log.events).toHaveLength(1);
      expect(event).toMatchObject({ operation: "GetCACaps", outcome: "success", status: 200, clientAddress: "127.0.0.1" });
      // A JSON log line carries it as ISO 8601 UTC with milliseconds.
      expect(JSON.parse(JSON.stringify(event)).time).toBe(event.time.toISOString());
      expect(JSON.parse(JSON.stringify(event)).time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });
  }
});

describe("time: the server's clock when the request arrived", () => {
  it("a PKCSReq's event has the clock's first reading of the request, not a later one (the clock moves 1 s a call)", async () => {
    let calls = 0;
    const log = eventLog();
    const server = scepServer(log.onEvent, () => new Date(NOW.getTime() + 1000 * calls++));
    calls = 0; // construction read the clock (the CA's validity); the request starts from NOW
    const device = await createDevice({ cn: "clocked-device", challengePassword: "pw" });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const res = await server.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: built.der as Uint8Array<ArrayBuffer> }));
    expect(res.status).toBe(200);
    expect(calls).toBeGreaterThan(1); // the enrollment read the clock again after the arrival
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", reason: "issued", time: NOW });
  });
});

describe("time: a clock that throws", () => {
  it("fails only the operations that read it: GetCACaps still answers 200 with a time, a PKCSReq is 500 (onError told)", async () => {
    let broken = false;
    const log = eventLog();
    const errors: unknown[] = [];
    const server = createScepServer({
      profiles: [{ name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca) }],
      onEvent: log.onEvent,
      onError: (error) => void errors.push(error),
      now: () => {
        if (broken) throw new Error("clock source down");
        return NOW;
      },
    });
    broken = true;
    const caps = await getOp(server, "/scep", "GetCACaps");
    expect(caps.status).toBe(200);
    expect(log.events.at(-1)!.time).toBeInstanceOf(Date);
    const device = await createDevice({ cn: "clockless-device", challengePassword: "pw" });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const res = await server.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: built.der as Uint8Array<ArrayBuffer> }));
    expect(res.status).toBe(500);
    expect(errors.map((e) => (e as Error).message)).toEqual(["clock source down"]);
  });
});

describe("clientAddress: what the caller passed, or nothing", () => {
  let server: ScepServer;
  const log = eventLog();
  beforeAll(() => {
    server = scepServer(log.onEvent, () => NOW);
  });

  it("without info, or with an undefined or empty remoteAddress, the event has no clientAddress field", async () => {
    await getOp(server, "/scep", "GetCACaps");
    await server.fetch(new Request("http://scep.test/scep?operation=GetCACaps"), { remoteAddress: undefined });
    await server.handle({ method: "GET", url: "/scep?operation=GetCACaps" }, { remoteAddress: "" });
    await server.handle({ method: "GET", url: "/scep?operation=GetCACaps" }, { remoteAddress: 42 as unknown as string });
    expect(log.events.slice(-4).map((e) => Object.hasOwn(e, "clientAddress"))).toEqual([false, false, false, false]);
    expect(log.events.slice(-4).map((e) => e.time)).toEqual([NOW, NOW, NOW, NOW]);
  });

  it("an IPv6 address is kept as given; one longer than 64 characters (a forged forwarding header) is cut, ending in …", async () => {
    await server.handle({ method: "GET", url: "/scep?operation=GetCACaps" }, { remoteAddress: "::ffff:192.0.2.7" });
    expect(log.events.at(-1)!.clientAddress).toBe("::ffff:192.0.2.7");
    await server.fetch(new Request("http://scep.test/scep?operation=GetCACaps"), { remoteAddress: "x".repeat(10_000) });
    expect(log.events.at(-1)!.clientAddress).toBe(`${"x".repeat(63)}…`);
  });

  it("an unknown path's 404 and a refused request carry it too", async () => {
    await server.handle({ method: "GET", url: "/elsewhere?operation=GetCACaps" }, { remoteAddress: "192.0.2.9" });
    expect(log.events.at(-1)).toMatchObject({ reason: "unknown_path", status: 404, clientAddress: "192.0.2.9", time: NOW });
    await server.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: new Uint8Array([1, 2, 3]) }), { remoteAddress: "192.0.2.9" });
    expect(log.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", clientAddress: "192.0.2.9", time: NOW });
  });
});
