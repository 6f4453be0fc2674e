/**
 * RFC 9110 §9.3.2: HEAD of each operator endpoint (`/healthz`, `/readyz`, `/metrics` open and behind a token) and of the admin page served through `serveFetch` gets the
 * header fields a GET of the same target gets, Content-Length included, and no content. Over real sockets on loopback.
 * The `--workers` scrape (answered by the cluster primary) is checked in examples/express-server/test/example.metrics.workers.test.ts.
 * (Found by a user: `HEAD /metrics` came without Content-Length, the Prometheus exporter's handler writes none.)
 */
import { createServer, type RequestListener, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchange } from "../../../packages/core/test/support/head-vs-get.js";
import { serveFetch } from "../src/node-fetch.js";
import { createMetricsSdk, withOperatorEndpoints, type MetricsSdk } from "../src/operator-endpoints.js";

const TOKEN = "head-metrics-token-0123456789";

async function listen(listener: RequestListener): Promise<{ server: Server; port: number }> {
  const server = createServer(listener);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

/** GET then HEAD of `path`: the same status and header fields, a Content-Length that is the GET's length, no content. */
async function expectHeadLikeGet(port: number, path: string, status: number, headers: Record<string, string> = {}): Promise<void> {
  const get = await exchange(port, "GET", path, headers);
  const head = await exchange(port, "HEAD", path, headers);
  expect({ path, status: get.status, length: get.headers["content-length"] }).toEqual({ path, status, length: String(get.body.length) });
  expect(get.body.length).toBeGreaterThan(0);
  expect({ path, status: head.status, headers: head.headers, body: head.body.length }).toEqual({ path, status: get.status, headers: get.headers, body: 0 });
}

describe("operator endpoints answer HEAD with the GET's header fields", () => {
  const servers: Server[] = [];
  let sdk: MetricsSdk;
  const ports = { open: 0, token: 0, admin: 0 };
  beforeAll(async () => {
    sdk = createMetricsSdk();
    // A counter with a fixed value, so the GET and the HEAD serialise the same text (same length).
    sdk.meterProvider.getMeter("head-test").createCounter("head_test_total").add(3);
    const notFound: RequestListener = (_req, res) => void res.writeHead(404).end();
    const open = await listen(withOperatorEndpoints(notFound, { readiness: { ca: () => true, redis: () => false } }, sdk));
    const token = await listen(withOperatorEndpoints(notFound, { readiness: { ca: () => true }, metricsToken: TOKEN }, sdk));
    // Like the admin page: a fetch handler that answers HEAD as it answers GET, with content and no Content-Length.
    const admin = await listen((req, res) => serveFetch(async () => new Response("<!doctype html><p>admin</p>\n", { headers: { "content-type": "text/html; charset=utf-8" } }), req, res, () => res.destroy()));
    for (const s of [open, token, admin]) servers.push(s.server);
    Object.assign(ports, { open: open.port, token: token.port, admin: admin.port });
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    await sdk.meterProvider.shutdown();
  });

  it("/healthz 200 and /readyz 503", async () => {
    await expectHeadLikeGet(ports.open, "/healthz", 200);
    await expectHeadLikeGet(ports.open, "/readyz", 503);
  });

  it("/metrics open: 200 Prometheus text with its Content-Length", async () => {
    await expectHeadLikeGet(ports.open, "/metrics", 200);
    const get = await exchange(ports.open, "GET", "/metrics");
    expect(get.body.toString()).toMatch(/^head_test_total(\{[^}]*\})? 3$/m);
    // The text exposition format's media type with its version, as Prometheus's Go client sends it.
    expect(get.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
  });

  it("/metrics behind a token: 401 without it, 403 with a wrong one, 200 with it", async () => {
    await expectHeadLikeGet(ports.token, "/metrics", 401);
    await expectHeadLikeGet(ports.token, "/metrics", 403, { authorization: "Bearer wrong-token-wrong-token" });
    await expectHeadLikeGet(ports.token, "/metrics", 200, { authorization: `Bearer ${TOKEN}` });
  });

  it("a fetch handler served through serveFetch (the admin page): 200 with the GET's Content-Length", async () => {
    await expectHeadLikeGet(ports.admin, "/admin", 200);
  });
});
