/**
 * @scep/hono with a handler that has `handle` (the SCEP server): a request
 * without a body, or with a declared Content-Length, goes through `handle`
 * (the body read by Hono in one piece); a chunked body through `fetch`
 * (streamed under the server's limit). Either way the answer is what the
 * web-standard path (the same server offered with `fetch` only) gives: status,
 * headers, bytes, events. Over @hono/node-server on loopback.
 */
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import { connect } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchHandler, HttpResponseParts } from "@scep/core";
import { scepHandler } from "../src/index.js";
import { close, createFixture, enroll, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fx: Fixture;
const calls = { handle: 0, fetch: 0 };
const hooks: { started?: () => void; answered?: (answer: HttpResponseParts) => void } = {};
const servers: Server[] = [];

async function serve(handler: FetchHandler): Promise<number> {
  const app = new Hono();
  app.use(scepHandler(handler));
  const http = createServer(getRequestListener(app.fetch));
  servers.push(http);
  return Number(new URL(await listen(http)).port);
}

let plainPort: number;
let webPort: number;
beforeAll(async () => {
  fx = await createFixture({ maxBodyBytes: 1024 });
  const s = fx.server;
  plainPort = await serve({
    owns: (path) => s.owns(path),
    fetch: async (r) => {
      calls.fetch++;
      return s.fetch(r);
    },
    handle: async (parts) => {
      calls.handle++;
      hooks.started?.();
      const answer = await s.handle(parts);
      hooks.answered?.(answer);
      return answer;
    },
  });
  webPort = await serve({ owns: (path) => s.owns(path), fetch: (r) => s.fetch(r) });
});
afterAll(async () => {
  for (const http of servers) await close(http);
});

/** One exchange on its own connection: status, headers (without Date, Connection, Keep-Alive), body bytes. */
function exchange(port: number, method: string, path: string, body?: Uint8Array, chunked = false): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = body && !chunked ? { "content-length": String(body.length) } : chunked ? { "transfer-encoding": "chunked" } : {};
    const req = request({ host: "127.0.0.1", port, method, path, headers, agent: false });
    req.on("error", reject).on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
        const { date, connection, "keep-alive": _k, ...rest } = res.headers;
        resolve({ status: res.statusCode!, headers: rest, body: Buffer.concat(chunks) });
      });
    });
    req.end(body);
  });
}

describe("scepHandler: a handler with handle()", () => {
  it("answers as the fetch-only path does: every operation, HEAD, 405, 400, 413 (declared or chunked), the same events", async () => {
    const cases: [string, string, Uint8Array?, boolean?][] = [
      ["GET", "/scep?operation=GetCACaps"],
      ["HEAD", "/scep?operation=GetCACaps"],
      ["GET", "/scep?operation=GetCACert"],
      ["GET", "/scep?operation=GetNextCACert"],
      ["PUT", "/scep?operation=GetCACaps", Uint8Array.of(1)],
      ["GET", "/scep"],
      ["POST", "/scep?operation=PKIOperation", Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)],
      ["POST", "/scep?operation=PKIOperation", new Uint8Array()],
      ["POST", "/scep?operation=PKIOperation", new TextEncoder().encode("bm90IGEgbWVzc2FnZQ==")],
      ["POST", "/scep?operation=PKIOperation", new Uint8Array(2000).fill(0x30)],
      ["POST", "/scep?operation=PKIOperation", new Uint8Array(2000).fill(0x30), true],
      ["POST", "/scep?operation=PKIOperation", Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01), true],
    ];
    for (const [method, path, body, chunked] of cases) {
      calls.handle = calls.fetch = 0;
      const mark = fx.events.length;
      const viaPlain = await exchange(plainPort, method, path, body, chunked);
      const plainEvents = fx.events.slice(mark);
      const viaWeb = await exchange(webPort, method, path, body, chunked);
      const webEvents = fx.events.slice(mark + plainEvents.length);
      expect({ method, path, chunked, status: viaPlain.status, headers: viaPlain.headers, body: viaPlain.body.toString("hex") }).toEqual({ method, path, chunked, status: viaWeb.status, headers: viaWeb.headers, body: viaWeb.body.toString("hex") });
      expect(plainEvents.map(({ latencyMs, time, ...e }) => e)).toEqual(webEvents.map(({ latencyMs, time, ...e }) => e)); // the two requests arrive at different times
      expect(plainEvents.length).toBe(1);
      // A chunked body (no declared length) is streamed through fetch, under the server's limit.
      expect({ method, chunked, calls }).toEqual({ method, chunked, calls: chunked ? { handle: 0, fetch: 1 } : { handle: 1, fetch: 0 } });
    }
    expect(fx.events.at(-3)).toMatchObject({ reason: "body_too_large", status: 413 });
  });

  it("enrolls (PKCSReq → SUCCESS) through handle", async () => {
    const big = await createFixture();
    const s = big.server;
    let handled = 0;
    const port = await serve({ owns: (p) => s.owns(p), fetch: (r) => s.fetch(r), handle: async (parts) => (handled++, s.handle(parts)) });
    const rep = await enroll(big.pki, `http://127.0.0.1:${port}/scep`);
    expect(rep.status).toBe("SUCCESS");
    expect(big.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });
    expect(handled).toBeGreaterThanOrEqual(2); // GetCACert and the PKIOperation at least
  });

  it("a client that goes away mid-body: the server's 400 body_aborted", async () => {
    const started = new Promise<void>((resolve) => (hooks.started = resolve));
    const answered = new Promise<HttpResponseParts>((resolve) => (hooks.answered = resolve));
    const socket = connect(plainPort, "127.0.0.1");
    socket.write("POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n" + "0".repeat(100));
    await started;
    socket.destroy();
    const answer = await answered;
    delete hooks.started;
    delete hooks.answered;
    expect({ status: answer.status, body: new TextDecoder().decode(answer.body) }).toEqual({ status: 400, body: "request body aborted\n" });
    expect(fx.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_aborted", status: 400 });
  });

  it("through app.request(): a declared Content-Length goes through handle, none through fetch; the same answer", async () => {
    const s = fx.server;
    const seen: string[] = [];
    const app = new Hono();
    app.use(scepHandler({ owns: (p) => s.owns(p), fetch: (r) => (seen.push("fetch"), s.fetch(r)), handle: (parts) => (seen.push("handle"), s.handle(parts)) }));
    const body = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01);
    const a = await app.request("/scep?operation=PKIOperation", { method: "POST", body, headers: { "content-length": "5" } });
    const b = await app.request("/scep?operation=PKIOperation", { method: "POST", body });
    expect(seen).toEqual(["handle", "fetch"]);
    expect([a.status, await a.text()]).toEqual([b.status, await b.text()]);
    expect(a.status).toBe(400);
  });
});
