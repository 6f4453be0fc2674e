/**
 * serveFetch and a method the WHATWG `Request` refuses to carry (Fetch §2.2.1 forbidden methods): node:http hands a
 * TRACE to the request listener, and building its `Request` threw a TypeError that went to `onError` (the admin
 * listener's 500 `internal error` and `internal-error` log line, Express's 500 page). Now 405 `method not allowed`
 * with `Allow` (RFC 9110 §15.5.6), the handler not called, nothing for `onError`. Over a real socket on loopback;
 * the example servers themselves in examples/express-server/test/node-layer.unsupported-method.express-server.test.ts.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_API_ALLOW } from "../src/admin-api.js";
import { answerUnsupportedMethod, serveFetch } from "../src/node-fetch.js";

let server: Server;
const calls: string[] = [];
const listened: string[] = [];
const errors: unknown[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    listened.push(req.method ?? "");
    const handler = async (r: Request): Promise<Response> => (calls.push(r.method), new Response("ok\n"));
    const onError = (error: unknown): void => void (errors.push(error), res.writeHead(500).end("internal error\n"));
    if (req.url?.startsWith("/crl")) serveFetch(handler, req, res, onError, "GET, HEAD");
    else serveFetch(handler, req, res, onError);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function send(method: string, path: string, body?: string): Promise<{ status: number; allow: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("serveFetch: a method a web Request cannot carry", () => {
  it.each([
    ["the default Allow (the admin API's)", "/admin/scep/profiles", undefined, ADMIN_API_ALLOW],
    ["the caller's Allow", "/crl", undefined, "GET, HEAD"],
    ["with a body, which is drained", "/admin/scep/profiles", "x".repeat(70_000), ADMIN_API_ALLOW],
  ])("TRACE, %s → 405 method not allowed with Allow; the handler never called, nothing for onError", async (_what, path, body, allow) => {
    const before = calls.length;
    expect(await send("TRACE", path, body)).toEqual({ status: 405, allow, body: "method not allowed\n" });
    expect([calls.length - before, errors]).toEqual([0, []]);
    expect(await send("GET", path)).toMatchObject({ status: 200, body: "ok\n" });
  });

  it("the admin API's Allow is every method its routes take", () => {
    expect(ADMIN_API_ALLOW).toBe("GET, HEAD, POST");
  });

  it("TRACK never reaches the listener (node:http's parser answers 400), so only TRACE is ours to answer over node:http", async () => {
    const before = listened.length;
    expect((await send("TRACK", "/admin/scep/profiles")).status).toBe(400);
    expect(listened.slice(before)).toEqual([]);
  });
});

describe("answerUnsupportedMethod, the one check serveFetch and the example proxy share", () => {
  /** A stand-in for the request and response: the method, and what was written. */
  const fake = (method: string | undefined) => {
    const written: unknown[] = [];
    const req = { method, resume: () => written.push("resumed") } as unknown as IncomingMessage;
    const res = { writeHead: (...a: unknown[]) => written.push(a), end: (b: unknown) => written.push(b) } as unknown as ServerResponse;
    return { req, res, written };
  };

  it.each(["TRACE", "trace", "TRACK", "CONNECT", "connect"])("%s → true, 405 with the given Allow, body drained", (method) => {
    const { req, res, written } = fake(method);
    expect(answerUnsupportedMethod(req, res, "GET, HEAD")).toBe(true);
    expect(written).toEqual([[405, { "content-type": "text/plain; charset=utf-8", allow: "GET, HEAD" }], "method not allowed\n", "resumed"]);
  });

  it.each(["GET", "HEAD", "POST", "DELETE", undefined])("%s → false, nothing written", (method) => {
    const { req, res, written } = fake(method);
    expect(answerUnsupportedMethod(req, res, "GET, HEAD")).toBe(false);
    expect(written).toEqual([]);
  });
});
