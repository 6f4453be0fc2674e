/**
 * The middleware's plain-parts path (a handler with `handle`, as the SCEP
 * server has): over real HTTP on loopback it answers what the web-standard
 * path (the same server offered with `fetch` only) answers, status, headers
 * and bytes; reads the body only when the server asks for it, capped (413 and
 * close), uses express.raw()'s Buffer as is, turns a client that goes away
 * mid-body into the server's 400 `body_aborted`, and passes an untouched 404 of
 * a handler without `owns` on to `next()`.
 */
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import { connect } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchHandler, HttpRequestParts, HttpResponseParts } from "@scep/core";
import { scepMiddleware } from "../src/index.js";
import { close, createFixture, enroll, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fx: Fixture;
/** Every request the server's `handle` answered, with its parts and answer. */
let handled: { parts: HttpRequestParts; answer: HttpResponseParts }[];
let fetched: number;
/** Told when `handle` is called (before the server reads the body) and when it has answered. */
const hooks: { started?: () => void; answered?: (answer: HttpResponseParts) => void } = {};
/** The SCEP server with `handle` (plain-parts path), counting. */
let plain: FetchHandler;
/** The same server offered with `owns` and `fetch` only (web-standard path). */
let web: FetchHandler;
const servers: Server[] = [];

beforeAll(async () => {
  fx = await createFixture(); // the server's limit: 64 KiB
  handled = [];
  fetched = 0;
  const s = fx.server;
  plain = {
    owns: (path) => s.owns(path),
    fetch: async (r) => {
      fetched++;
      return s.fetch(r);
    },
    handle: async (parts) => {
      hooks.started?.();
      const answer = await s.handle(parts);
      handled.push({ parts, answer });
      hooks.answered?.(answer);
      return answer;
    },
  };
  web = { owns: (path) => s.owns(path), fetch: (r) => s.fetch(r) };
});
afterAll(async () => {
  for (const http of servers) await close(http);
});

async function serve(app: express.Express): Promise<{ base: string; port: number }> {
  const http = createServer(app);
  servers.push(http);
  const base = await listen(http);
  return { base, port: Number(new URL(base).port) };
}

async function appWith(handler: FetchHandler, options: { maxBodyBytes?: number; raw?: boolean } = {}): Promise<{ base: string; port: number; rawBodies: unknown[] }> {
  const app = express();
  const rawBodies: unknown[] = [];
  if (options.raw) app.use(express.raw({ type: "*/*", limit: "1mb" }), (req, _res, next) => void (rawBodies.push(req.body), next()));
  app.use(scepMiddleware(handler, options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }));
  app.use((_req, res) => void res.status(404).send("next() answered\n"));
  return { ...(await serve(app)), rawBodies };
}

/** One raw HTTP exchange: status, headers (without Date, Connection, Keep-Alive) and body bytes. */
function exchange(port: number, method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { ...(body ? { "content-length": String(body.length) } : {}), ...headers }, agent: false });
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

describe("scepMiddleware: a handler with handle() is served through it", () => {
  it("answers every operation as the web-standard path does: status, headers, bytes (HEAD: none), the same events", async () => {
    const a = await appWith(plain);
    const b = await appWith(web);
    const cases: [string, string, Uint8Array?][] = [
      ["GET", "/scep?operation=GetCACaps"],
      ["HEAD", "/scep?operation=GetCACaps"],
      ["GET", "/scep?operation=GetCACert"],
      ["HEAD", "/scep/pkiclient.exe?operation=GetCACert"],
      ["GET", "/scep?operation=GetNextCACert"],
      ["PUT", "/scep?operation=GetCACaps", Uint8Array.of(1)],
      ["GET", "/scep"],
      ["GET", "/scep?operation=PKIOperation&message=%%%"],
      ["POST", "/scep?operation=PKIOperation", Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)],
      ["POST", "/scep?operation=PKIOperation", new Uint8Array()],
      ["POST", "/scep?operation=PKIOperation", new TextEncoder().encode("bm90IGEgbWVzc2FnZQ==")],
      ["POST", "/scep?operation=GetCACaps", new Uint8Array(70_000)],
    ];
    for (const [method, path, body] of cases) {
      fetched = 0;
      const before = [fx.events.length, handled.length];
      const viaParts = await exchange(a.port, method, path, body);
      const partsEvent = fx.events.slice(before[0]);
      const viaWeb = await exchange(b.port, method, path, body);
      const webEvent = fx.events.slice(before[0]! + partsEvent.length);
      expect(handled.length).toBe(before[1]! + 1);
      expect(fetched).toBe(0);
      // Both send Content-Length; HEAD the GET's (RFC 9110 §9.3.2) and no content.
      expect({ method, path, status: viaParts.status, headers: viaParts.headers, body: viaParts.body.toString("hex") }).toEqual({ method, path, status: viaWeb.status, headers: viaWeb.headers, body: viaWeb.body.toString("hex") });
      if (method === "HEAD") expect([viaParts.headers["transfer-encoding"], viaParts.body.length]).toEqual([undefined, 0]);
      else expect([Number(viaParts.headers["content-length"]), viaParts.headers["transfer-encoding"]]).toEqual([viaParts.body.length, undefined]);
      expect(partsEvent.map(({ latencyMs, time, ...e }) => e)).toEqual(webEvent.map(({ latencyMs, time, ...e }) => e)); // the two requests arrive at different times
      expect(partsEvent.length).toBe(1);
    }
  });

  it("enrolls (PKCSReq → SUCCESS), handing over the path as sent, req.headers as is and the body in one Buffer", async () => {
    const { base } = await appWith(plain);
    handled.length = 0;
    const rep = await enroll(fx.pki, `${base}/scep`);
    expect(rep.status).toBe("SUCCESS");
    const post = handled.find((h) => h.parts.method === "POST")!;
    expect(post.parts.url).toBe("/scep?operation=PKIOperation");
    expect((post.parts.headers as Record<string, string>)["content-type"]).toBe("application/x-pki-message");
    expect(Buffer.isBuffer(await post.parts.body)).toBe(true);
    // GetCACaps/GetCACert went the same way, with no body.
    expect(handled.filter((h) => h.parts.method === "GET").every((h) => h.parts.body === undefined)).toBe(true);
  });

  it("reads nothing for an operation that needs no body: a declared Content-Length over the limit on a GetCACaps POST gets the capabilities", async () => {
    const { port } = await appWith(plain);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method: "POST", path: "/scep?operation=GetCACaps", headers: { "content-length": "100000" }, agent: false });
      req.on("error", reject).on("response", resolve);
      req.write(Buffer.alloc(10)); // the rest is never sent: the answer does not wait for it
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/plain");
    res.destroy();
  });

  it("413 and close when the body passes the middleware's limit (below the server's): declared, nothing is read; chunked, the read stops", async () => {
    const { port } = await appWith(plain, { maxBodyBytes: 100 });
    const declared = await exchange(port, "POST", "/scep?operation=PKIOperation", new Uint8Array(500).fill(0x30));
    expect({ status: declared.status, body: declared.body.toString(), type: declared.headers["content-type"], length: declared.headers["content-length"] }).toEqual({ status: 413, body: "message too large\n", type: "text/plain; charset=utf-8", length: "18" });
    // Nothing was read: the server got an empty body.
    expect(handled.at(-1)!.answer.status).toBe(400);
    expect(fx.events.at(-1)).toMatchObject({ reason: "empty_message" });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method: "POST", path: "/scep?operation=PKIOperation", headers: { "transfer-encoding": "chunked" }, agent: false });
      req.on("error", reject).on("response", resolve);
      req.write(Buffer.alloc(80, 0x30));
      req.write(Buffer.alloc(80, 0x30)); // never ended: the answer cannot wait for the end
    });
    const closed = new Promise((resolve) => res.socket.once("close", resolve));
    expect([res.statusCode, res.headers.connection]).toEqual([413, "close"]);
    res.resume();
    await closed;
    // The server saw what arrived up to the limit and a little more (not a PKIMessage), never the whole body.
    expect(fx.events.at(-1)).toMatchObject({ reason: "decode_error" });
    expect((await handled.at(-1)!.parts.body)!.length).toBeGreaterThan(100);
  });

  it("a client that goes away mid-body: the server's 400 body_aborted, and the server goes on serving", async () => {
    const { port } = await appWith(plain);
    const started = new Promise<void>((resolve) => (hooks.started = resolve));
    const answered = new Promise<HttpResponseParts>((resolve) => (hooks.answered = resolve));
    const socket = connect(port, "127.0.0.1");
    socket.write("POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n" + "0".repeat(100));
    await started; // the server has the request and is reading its body: the client goes away
    socket.destroy();
    const answer = await answered;
    delete hooks.started;
    delete hooks.answered;
    expect({ status: answer.status, body: new TextDecoder().decode(answer.body) }).toEqual({ status: 400, body: "request body aborted\n" });
    expect(fx.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_aborted", status: 400 });
    expect((await exchange(port, "GET", "/scep?operation=GetCACaps")).status).toBe(200);
  });

  it("uses the Buffer express.raw() left in req.body as is (the same object), and answers 413 for one over the limit", async () => {
    const { port, rawBodies } = await appWith(plain, { raw: true, maxBodyBytes: 1024 });
    handled.length = 0;
    const small = await exchange(port, "POST", "/scep?operation=PKIOperation", Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01), { "content-type": "application/x-pki-message" });
    expect(small.status).toBe(400);
    expect(handled[0]!.parts.body).toBe(rawBodies[0]);
    const big = await exchange(port, "POST", "/scep?operation=PKIOperation", new Uint8Array(2000).fill(0x30), { "content-type": "application/x-pki-message" });
    expect([big.status, big.body.toString()]).toEqual([413, "message too large\n"]);
  });

  it("a handler with handle() but without owns(): an untouched 404 goes to next(); one after reading the body is its own", async () => {
    const bare: FetchHandler = {
      fetch: async () => new Response("unused", { status: 500 }),
      handle: async (parts): Promise<HttpResponseParts> => {
        if (parts.url.startsWith("/mine")) return { status: 404, headers: { "content-type": "text/plain" }, body: new TextEncoder().encode(`read ${(await parts.body)?.length ?? 0}\n`) };
        return { status: 404, headers: {}, body: new Uint8Array() };
      },
    };
    const { port } = await appWith(bare);
    expect((await exchange(port, "POST", "/theirs", new Uint8Array(3))).body.toString()).toBe("next() answered\n");
    expect((await exchange(port, "POST", "/mine", new Uint8Array(3))).body.toString()).toBe("read 3\n");
  });
});
