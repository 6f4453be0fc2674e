/**
 * The example's node:http layer around the @scep/proxy handler, in process,
 * in front of a loopback upstream that records what it gets: a GET
 * PKIOperation whose base64 `message` holds a literal `+` (iOS) or `%2B`
 * reaches the upstream as the same DER bytes; a body over `maxBodyBytes` is
 * refused with 413 before the handler (and never consumes the challenge);
 * paths outside the SCEP path and the admin API are 404. The node:http
 * upstream transport (nodeHttpFetch) reports a refused connection as such
 * and refuses an oversized upstream answer (502 either way, typed reason in
 * the event).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig, type ProxyConfig } from "../src/config.js";
import { startProxy, type RunningProxy } from "../src/start-proxy.js";
import { serveFetch } from "../src/node-fetch.js";
import { freeStablePort } from "../../../test-support/peers";

const TOKEN = "node-layer-token-0123456789";
let upstream: Server;
const received: Buffer[] = [];
let proxy: RunningProxy;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const op = new URL(req.url ?? "/", "http://x").searchParams.get("operation");
      if (op === "GetCACaps") return void res.writeHead(200, { "content-type": "text/plain" }).end("POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n");
      received.push(Buffer.concat(chunks));
      // A message starting 30 09 gets an answer larger than the proxy's 4096-byte limit.
      const big = received.at(-1)?.[1] === 0x09;
      res.writeHead(200, { "content-type": "application/x-pki-message" }).end(big ? Buffer.alloc(10_000) : Buffer.from([0x30, 0x00]));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  const port = (upstream.address() as AddressInfo).port;
  const config = parseConfig(["--port", "0"], { PROXY_ADMIN_TOKEN: TOKEN }, { readFile: () => JSON.stringify({ maxBodyBytes: 4096, cas: [{ name: "corp", type: "custom", url: `http://127.0.0.1:${port}/scep` }] }) }) as ProxyConfig;
  proxy = await startProxy(config, { log: (l) => lines.push(l) });
});
afterAll(async () => {
  await proxy?.close();
  await new Promise((r) => upstream?.close(r));
});

async function register(hostId: string): Promise<string> {
  const res = await fetch(`${proxy.origin}/admin/profiles`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ hostId, profileId: "wifi" }) });
  return ((await res.json()) as { url: string }).url;
}

/** Bytes whose base64 has `+` in it (0xfb 0xef 0xbe → "++++"). */
const MESSAGE = Buffer.from([0x30, 0x07, 0x04, 0x05, 0x00, 0x00, 0xfb, 0xef, 0xbe]);

describe("the example's node:http layer", () => {
  it.each([
    ["a literal +", (b64: string) => b64],
    ["%2B", (b64: string) => b64.replaceAll("+", "%2B").replaceAll("/", "%2F").replaceAll("=", "%3D")],
  ])("GET PKIOperation with %s in message reaches the upstream as the same bytes", async (_what, encode) => {
    const url = await register(`plus-${received.length}`);
    const b64 = MESSAGE.toString("base64");
    expect(b64).toContain("+");
    const res = await fetch(`${url}?operation=PKIOperation&message=${encode(b64)}`);
    expect(res.status).toBe(200);
    expect(received.at(-1)?.equals(MESSAGE)).toBe(true);
  });

  it("a POST body over maxBodyBytes gets 413 and leaves the challenge unspent", async () => {
    const url = await register("big");
    const before = received.length;
    const big = await fetch(`${url}?operation=PKIOperation`, { method: "POST", body: new Uint8Array(5000) });
    expect(big.status).toBe(413);
    expect(received.length).toBe(before);
    const ok = await fetch(`${url}?operation=PKIOperation`, { method: "POST", body: MESSAGE });
    expect(ok.status).toBe(200);
    expect(received.at(-1)?.equals(MESSAGE)).toBe(true);
  });

  it("an upstream answer over maxBodyBytes → 502, reason other; a refused connection → 502, reason connection_refused", async () => {
    const url = await register("huge-answer");
    const res = await fetch(`${url}?operation=PKIOperation`, { method: "POST", body: Buffer.from([0x30, 0x09, 0x04, 0x07, 1, 2, 3, 4, 5, 6, 7]) });
    expect(res.status).toBe(502);
    expect(await res.text()).toBe("upstream failed");
    expect(lines.filter((l) => l.type === "proxy" && l.hostId === "huge-answer" && l.operation === "PKIOperation")).toEqual([expect.objectContaining({ status: 502, outcome: "upstream_error", upstream: { reason: "other" } })]);

    const deadPort = await freeStablePort(); // a closed listen(0) port could be another test's server by the time we call
    const deadLines: Record<string, unknown>[] = [];
    const config = parseConfig(["--port", "0"], { PROXY_ADMIN_TOKEN: TOKEN }, { readFile: () => JSON.stringify({ cas: [{ name: "dead", type: "ndes", url: `http://127.0.0.1:${deadPort}/scep` }] }) }) as ProxyConfig;
    const dead = await startProxy(config, { log: (l) => deadLines.push(l) });
    try {
      await fetch(`${dead.origin}/admin/profiles`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ hostId: "h", profileId: "p" }) });
      const before = Date.now();
      const caps = await fetch(`${dead.origin}/scep/h,p,dead?operation=GetCACaps`);
      const after = Date.now();
      expect(caps.status).toBe(502);
      // The line names the device's address and when its request arrived (ISO 8601 UTC, ms), within the request's window.
      expect(deadLines.filter((l) => l.type === "proxy")).toEqual([expect.objectContaining({ operation: "GetCACaps", status: 502, upstream: { reason: "connection_refused" }, clientAddress: "127.0.0.1", time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) })]);
      const time = Date.parse(deadLines.find((l) => l.type === "proxy")!.time as string);
      expect(time).toBeGreaterThanOrEqual(before);
      expect(time).toBeLessThanOrEqual(after);
    } finally {
      await dead.close();
    }
  });

  it("/healthz and /readyz as the example servers answer them: 200 (no Redis, so no check), HEAD too; another method 405", async () => {
    const health = await fetch(`${proxy.origin}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, "ok\n"]);
    const ready = await fetch(`${proxy.origin}/readyz`);
    expect([ready.status, ready.headers.get("content-type"), await ready.json()]).toEqual([200, "application/json", { status: "ready", checks: {} }]);
    expect((await fetch(`${proxy.origin}/readyz`, { method: "HEAD" })).status).toBe(200);
    const post = await fetch(`${proxy.origin}/readyz`, { method: "POST", body: "x" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
  });

  /** Header fields without Date and the connection's own (hop-by-hop, RFC 9110 §7.6.1). */
  const fields = (headers: Headers): Record<string, string> => {
    const out: Record<string, string> = {};
    headers.forEach((value, name) => void (["date", "connection", "keep-alive"].includes(name) || (out[name] = value)));
    return out;
  };

  it("HEAD gets the GET's status and header fields, Content-Length included, and no content (RFC 9110 §9.3.2): the admin API, the proxy", async () => {
    for (const [path, status] of [["/admin/profiles", 401], ["/scep/corp,device-1?operation=GetCACaps", 400]] as const) {
      const get = await fetch(`${proxy.origin}${path}`);
      const body = await get.arrayBuffer();
      const head = await fetch(`${proxy.origin}${path}`, { method: "HEAD" });
      expect([path, get.status, get.headers.get("content-length")]).toEqual([path, status, String(body.byteLength)]);
      expect([path, head.status, fields(head.headers), (await head.arrayBuffer()).byteLength]).toEqual([path, status, fields(get.headers), 0]);
    }
  });

  it("HEAD of every admin GET route, with the token, gets the GET's status and header fields and no content (RFC 9110 §9.3.2)", async () => {
    await register("head-listed");
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const path of ["/admin/profiles", "/admin/profiles?hostId=head-listed", "/admin/events", "/admin/events?since=0&type=requeue", "/admin/stats"]) {
      const get = await fetch(`${proxy.origin}${path}`, { headers: auth });
      const body = await get.arrayBuffer();
      const head = await fetch(`${proxy.origin}${path}`, { method: "HEAD", headers: auth });
      expect([path, get.status, get.headers.get("content-length")]).toEqual([path, 200, String(body.byteLength)]);
      expect(body.byteLength).toBeGreaterThan(0);
      expect([path, head.status, fields(head.headers), (await head.arrayBuffer()).byteLength]).toEqual([path, 200, fields(get.headers), 0]);
    }
  });

  it("405s carry an Allow listing the methods the target answers, HEAD with GET (RFC 9110 §15.5.6): the admin API, the proxy", async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const url = await register("allow-1");
    for (const [target, method, allow] of [
      [`${proxy.origin}/admin/profiles`, "PUT", "GET, HEAD, POST, DELETE"],
      [`${proxy.origin}/admin/events`, "POST", "GET, HEAD"],
      [`${proxy.origin}/admin/stats`, "DELETE", "GET, HEAD"],
      [`${url}?operation=GetCACaps`, "POST", "GET, HEAD"],
      [`${url}?operation=GetCACert`, "PUT", "GET, HEAD"],
      [`${url}?operation=PKIOperation`, "PUT", "GET, POST"],
      [`${url}?operation=PKIOperation&message=MAA%3D`, "HEAD", "GET, POST"],
    ] as const) {
      const res = await fetch(target, { method, headers: auth, ...(method === "HEAD" || method === "DELETE" ? {} : { body: "{}" }) });
      expect([method, target, res.status, res.headers.get("allow")]).toEqual([method, target, 405, allow]);
    }
  });

  it("paths outside /scep and /admin are 404; /scepx is not /scep", async () => {
    expect((await fetch(`${proxy.origin}/`)).status).toBe(404);
    expect((await fetch(`${proxy.origin}/scepx/a,b?operation=GetCACaps`)).status).toBe(404);
    const bad = await fetch(`${proxy.origin}/scep/only-one-field?operation=GetCACaps`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe("invalid identifier");
  });
});

describe("serveFetch: a handler that throws", () => {
  it("gets a 500 with its short body (internal error), whole and once; the error goes to onError", async () => {
    const errors: unknown[] = [];
    const boom = new Error("handler failed");
    const http = createServer((req, res) => void serveFetch(() => Promise.reject(boom), req, res, { maxBodyBytes: 4096, onError: (e) => void errors.push(e) }));
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
    try {
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      for (const init of [{ method: "GET" }, { method: "POST", body: "{}" }]) {
        const res = await fetch(`${base}/admin/profiles`, init);
        expect([init.method, res.status, res.headers.get("content-type"), res.headers.get("content-length"), await res.text()]).toEqual([init.method, 500, "text/plain; charset=utf-8", "15", "internal error\n"]);
      }
      expect(errors).toEqual([boom, boom]);
    } finally {
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    }
  });
});
