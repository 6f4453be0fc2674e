/**
 * RFC 9110 §9.3.2 over a real socket, for the adapters' tests: HEAD of each target the SCEP server answers on GET
 * (GetCACaps, GetCACert, GetNextCACert's 404 without a next CA, the 400s of no operation and an unknown one) gets the
 * GET's status and header fields, Content-Length included, and no content. A PKIOperation has effects, so its HEAD is
 * refused (405, Allow: GET, POST; RFC 9110 §9.2.1), with a Content-Length and no content.
 */
import { createServer, request, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchHandler } from "../../src/index.js";
import { close, createFixture, listen } from "./adapter-fixture.js";

const TARGETS = ["/scep?operation=GetCACaps", "/scep?operation=GetCACert", "/scep/pkiclient.exe?operation=GetCACert", "/scep?operation=GetNextCACert", "/scep", "/scep?operation=Nope"];

/** One exchange on its own connection: status, header fields (without Date, Connection, Keep-Alive), body bytes. */
export function exchange(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers, agent: false });
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

/** GET then HEAD of every target on the server at 127.0.0.1:`port` (profile path `/scep`). */
export async function expectHeadLikeGet(port: number): Promise<void> {
  for (const target of TARGETS) {
    const get = await exchange(port, "GET", target);
    const head = await exchange(port, "HEAD", target);
    expect(get.body.length).toBeGreaterThan(0);
    expect({ target, length: get.headers["content-length"] }).toEqual({ target, length: String(get.body.length) });
    expect({ target, status: head.status, headers: head.headers, body: head.body.length }).toEqual({ target, status: get.status, headers: get.headers, body: 0 });
  }
  const head = await exchange(port, "HEAD", "/scep?operation=PKIOperation&message=%%%");
  expect({ status: head.status, allow: head.headers.allow, length: head.headers["content-length"], body: head.body.length }).toEqual({ status: 405, allow: "GET, POST", length: expect.stringMatching(/^\d+$/), body: 0 });
  // Another method: 405 whose Allow lists what the target answers (RFC 9110 §15.5.6), HEAD with GET but not for a PKIOperation.
  for (const [target, allow] of [["/scep?operation=GetCACaps", "GET, HEAD, POST"], ["/scep?operation=PKIOperation", "GET, POST"]] as const) {
    const put = await exchange(port, "PUT", target);
    expect({ target, status: put.status, allow: put.headers.allow }).toEqual({ target, status: 405, allow });
  }
}

/**
 * The HEAD-vs-GET suite for one adapter: the fixture's SCEP server offered with `handle` (the plain-parts path) and
 * with `fetch` only (the web-standard path), each through `listenerOf` (the adapter turning a handler into a
 * node:http listener) on its own loopback port.
 */
export function describeHeadLikeGet(adapter: string, listenerOf: (handler: FetchHandler) => RequestListener): void {
  const servers: Server[] = [];
  const ports: Record<"handle" | "fetch", number> = { handle: 0, fetch: 0 };
  const serve = async (handler: FetchHandler): Promise<number> => {
    const http = createServer(listenerOf(handler));
    servers.push(http);
    return Number(new URL(await listen(http)).port);
  };
  beforeAll(async () => {
    const s = (await createFixture()).server;
    ports.handle = await serve(s);
    ports.fetch = await serve({ owns: (path) => s.owns(path), fetch: (r) => s.fetch(r) });
  });
  afterAll(async () => {
    for (const http of servers) await close(http);
  });
  describe(`HEAD through ${adapter} (RFC 9110 §9.3.2)`, () => {
    for (const path of ["handle", "fetch"] as const) {
      it(`${path} path: the GET's header fields with its Content-Length, no content`, () => expectHeadLikeGet(ports[path]));
    }
  });
}
