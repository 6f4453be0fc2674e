/**
 * The example's node:http layer and a method the WHATWG `Request` refuses to carry (Fetch §2.2.1 forbidden methods:
 * TRACE, TRACK, CONNECT): node:http hands a TRACE to the request listener like any other request, and building its
 * `Request` threw a TypeError ("'TRACE' HTTP method is unsupported"), which serveFetch answered 500 `internal error`
 * and logged as an `error` line. A client's method is the client's mistake: 405 `method not allowed` with the
 * methods the path answers in `Allow` (RFC 9110 §15.5.6), for the SCEP path and the admin API alike, nothing logged,
 * and the process keeps serving. Security scanners send TRACE to every path they find.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig, type ProxyConfig } from "../src/config.js";
import { startProxy, type RunningProxy } from "../src/start-proxy.js";

const TOKEN = "unsupported-method-token-0123";
let proxy: RunningProxy;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const config = parseConfig(["--port", "0"], { PROXY_ADMIN_TOKEN: TOKEN }, { readFile: () => JSON.stringify({ cas: [{ name: "corp", type: "custom", url: "http://127.0.0.1:9/scep" }] }) }) as ProxyConfig;
  proxy = await startProxy(config, { log: (l) => lines.push(l) });
});
afterAll(async () => {
  await proxy?.close();
});

/** One raw request (global fetch cannot send TRACE either). */
function send(method: string, path: string): Promise<{ status: number; allow: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: proxy.port, method, path, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("a method a web Request cannot carry", () => {
  it.each([
    ["the SCEP path", "/scep/h1,p1,corp?operation=GetCACaps", "GET, HEAD, POST"],
    ["the admin API", "/admin/profiles", "GET, HEAD, POST, DELETE"],
  ])("TRACE to %s → 405 method not allowed with Allow, no error line; the next request is served", async (_what, path, allow) => {
    const before = lines.length;
    expect(await send("TRACE", path)).toEqual({ status: 405, allow, body: "method not allowed\n" });
    expect(lines.slice(before).filter((l) => l.type === "error")).toEqual([]);
    expect((await send("GET", "/scep/h1,p1,corp?operation=GetCACaps")).status).toBe(400); // unknown identifier: still serving
  });
});
