/**
 * The example proxy's node:http server under slow clients and floods (issue
 * 12, items 3 and 7), in process in front of a loopback upstream: with 100
 * slow-loris connections open (headers trickled a byte at a time, bodies
 * stalled mid-way), a registered device still gets its GetCACaps and its
 * PKIOperation through, and the server closes every slow connection after
 * the configured timeouts (a stalled body with 408); beyond `http.maxInFlight`
 * a request gets 503 with Retry-After before its body is read.
 */
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig, type ProxyConfig } from "../src/config.js";
import { startProxy, type RunningProxy } from "../src/start-proxy.js";

const TOKEN = "slow-clients-token-0123456789";
let upstream: Server;
const started: RunningProxy[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume().on("end", () => {
      const op = new URL(req.url ?? "/", "http://x").searchParams.get("operation");
      if (op === "GetCACaps") return void res.writeHead(200, { "content-type": "text/plain" }).end("POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n");
      res.writeHead(200, { "content-type": "application/x-pki-message" }).end(Buffer.from([0x30, 0x00]));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
});
afterAll(async () => {
  await Promise.all(started.map((p) => p.close()));
  await new Promise((r) => upstream?.close(r));
});

async function start(http: Record<string, number>): Promise<RunningProxy> {
  const port = (upstream.address() as AddressInfo).port;
  const file = { cas: [{ name: "corp", type: "custom", url: `http://127.0.0.1:${port}/scep` }], http };
  const config = parseConfig(["--port", "0"], { PROXY_ADMIN_TOKEN: TOKEN }, { readFile: () => JSON.stringify(file) }) as ProxyConfig;
  const proxy = await startProxy(config, { log: () => undefined });
  started.push(proxy);
  return proxy;
}

async function register(proxy: RunningProxy, hostId: string): Promise<string> {
  const res = await fetch(`${proxy.origin}/admin/profiles`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ hostId, profileId: "wifi" }) });
  return ((await res.json()) as { url: string }).url;
}

interface Slow {
  socket: Socket;
  received: string;
  closed: Promise<void>;
  timer?: NodeJS.Timeout;
}

async function slowConnection(port: number, head: string, drip: string): Promise<Slow> {
  const socket = connect(port, "127.0.0.1");
  const slow: Slow = { socket, received: "", closed: new Promise((done) => socket.once("close", () => (clearInterval(slow.timer), done()))) };
  socket.setEncoding("utf8").on("data", (d: string) => (slow.received += d));
  socket.on("error", () => undefined);
  await new Promise((r) => socket.once("connect", r));
  socket.write(head);
  let i = 0;
  if (drip) slow.timer = setInterval(() => void (socket.writable && socket.write(drip[i++ % drip.length]!)), 100);
  return slow;
}

const firstLine = (s: string): string => s.split("\r\n")[0] ?? "";

describe("the example proxy under slow clients", () => {
  it("serves a registered device while 100 slow-loris connections are open; closes each of those after its timeout", async () => {
    const proxy = await start({ headersTimeoutMs: 1000, requestTimeoutMs: 20_000, bodyTimeoutMs: 1000, keepAliveTimeoutMs: 1000 });
    const url = await register(proxy, "device-under-load");
    const path = new URL(url).pathname;
    const slow = await Promise.all([
      ...Array.from({ length: 50 }, () => slowConnection(proxy.port, `POST ${path}?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\n`, "X-Slow: aaaaaaaaaaaaaaaa\r\n")),
      ...Array.from({ length: 50 }, () => slowConnection(proxy.port, `POST ${path}?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3000\r\n\r\n0123`, "")),
    ]);
    try {
      const caps = await fetch(`${url}?operation=GetCACaps`);
      expect([caps.status, await caps.text()]).toEqual([200, "POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n"]);
      const op = await fetch(`${url}?operation=PKIOperation`, { method: "POST", body: new Uint8Array([0x30, 0x00]) });
      expect([op.status, Buffer.from(await op.arrayBuffer()).toString("hex")]).toEqual([200, "3000"]);
      await Promise.all(slow.map((c) => c.closed));
      // Tricklers may be reset before they read their 408 (unread data at close); stalled bodies always read it.
      expect(slow.slice(0, 50).map((c) => (c.received === "" ? "reset" : firstLine(c.received))).filter((o) => o !== "reset" && o !== "HTTP/1.1 408 Request Timeout")).toEqual([]);
      expect(slow.slice(50).filter((c) => !(firstLine(c.received) === "HTTP/1.1 408 Request Timeout" && c.received.endsWith("request body not received in time\n")))).toEqual([]);
    } finally {
      for (const c of slow) (clearInterval(c.timer), c.socket.destroy());
    }
  });

  it("beyond http.maxInFlight answers 503 with Retry-After; serves again once the stalled requests are cut", async () => {
    const proxy = await start({ maxInFlight: 1, retryAfterSeconds: 4, bodyTimeoutMs: 1500 });
    const url = await register(proxy, "device-flood");
    const path = new URL(url).pathname;
    const head = `POST ${path}?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3000\r\n\r\n0123`;
    // A probe on its own new connection (the connect round trip lets the server read the stalled request first).
    const probe = async (): Promise<string> => {
      const c = await slowConnection(proxy.port, `GET ${path}?operation=GetCACaps HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, "");
      await c.closed;
      return c.received;
    };
    // A stalled request that arrives while another is still counted is refused itself, and on a loaded machine the
    // probes may take longer than the body timeout, which cuts the stalled one (408): either way, open the next one.
    let stalled = await slowConnection(proxy.port, head, "");
    let answer = await probe();
    for (let i = 0; i < 50 && firstLine(answer) === "HTTP/1.1 200 OK"; i++) {
      if (stalled.received !== "") stalled = await slowConnection(proxy.port, head, "");
      answer = await probe();
    }
    expect(firstLine(answer)).toBe("HTTP/1.1 503 Service Unavailable");
    expect(answer).toMatch(/\r\nretry-after: 4\r\n/);
    expect(answer.endsWith("\r\n\r\ntoo many requests in flight; retry later\n")).toBe(true);
    await stalled.closed;
    expect(firstLine(stalled.received)).toBe("HTTP/1.1 408 Request Timeout");
    expect((await fetch(`${url}?operation=GetCACaps`)).status).toBe(200);
  });
});
