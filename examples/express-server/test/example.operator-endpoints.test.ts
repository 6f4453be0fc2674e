/**
 * Operator endpoints of the example server over real HTTP (issue 11):
 * `/healthz` (alive), `/readyz` (CA loaded, Redis reachable when configured:
 * 503 once the real redis-server is killed or hangs, 200 again once it is
 * back), `/metrics` in Prometheus text format from the OpenTelemetry SDK
 * (enrollment counter, request-duration histogram, CA days-to-expiry gauge),
 * optionally behind SCEP_METRICS_TOKEN (401 without, 403 wrong).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep } from "@scep/core";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { type ExampleProcess, startExample } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = new URL("..", import.meta.url).pathname;
const METRICS_TOKEN = "metrics-token-0123456789abcdef";
const CHALLENGE = "operator-endpoints-challenge";

let tmp: string;
beforeAll(() => void (tmp = mkdtempSync(join(tmpdir(), "scep-operator-"))));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Polls `url` until its status is `status` (Redis state changes on its own schedule), at most `timeoutMs`. */
async function untilStatus(url: string, status: number, timeoutMs = 30_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(url);
    if (res.status === status || Date.now() > deadline) return res;
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function enroll(base: string, caPath: string): Promise<string> {
  const ca = Certificate.from(readFileSync(caPath, "utf8"));
  const keys = await generateRsaKeyPair(2048);
  const csr = await generateCsr({ keys, subject: "CN=metrics-device", challengePassword: CHALLENGE });
  const signer = await createSelfSignedSigner({ keys, subject: "CN=metrics-device" });
  const req = await buildPkcsReq({ csr, signer, recipient: ca });
  const res = await fetch(`${base}/scep?operation=PKIOperation`, { method: "POST", body: req.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } });
  return (await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: signer, caCertificates: [ca], request: req })).status;
}

describe("with Redis and a metrics token", () => {
  let redis: RedisServer;
  let proc: ExampleProcess;
  let base: string;
  let caPath: string;
  beforeAll(async () => {
    redis = await startRedisServer();
    const started = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: join(tmp, "redis"), SCEP_REDIS_URL: redis.url, SCEP_METRICS_TOKEN: METRICS_TOKEN, SCEP_CHALLENGE: CHALLENGE });
    ({ proc, base } = started);
    caPath = started.listening.caCertificate;
  }, 60_000);
  afterAll(async () => {
    await proc?.terminate();
    await redis?.stop();
  });

  it("GET /healthz: 200 ok; other methods 405", async () => {
    const res = await fetch(`${base}/healthz`);
    expect([res.status, res.headers.get("content-type"), res.headers.get("cache-control"), await res.text()]).toEqual([200, "text/plain; charset=utf-8", "no-store", "ok\n"]);
    const post = await fetch(`${base}/healthz`, { method: "POST" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
  });

  it("GET /readyz: 200 with the CA and Redis checks", async () => {
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { ca: "ok", redis: "ok" } });
  });

  it("GET /metrics: 401 without the token, 403 with a wrong one, neither echoing it", async () => {
    const none = await fetch(`${base}/metrics`);
    expect([none.status, none.headers.get("www-authenticate")]).toEqual([401, 'Bearer realm="metrics"']);
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: "Bearer not-the-metrics-token-at-all" } });
    const body = await wrong.text();
    expect([wrong.status, body]).toEqual([403, "wrong metrics token: it does not match SCEP_METRICS_TOKEN, the metrics token the server was started with\n"]);
  });

  it("GET /metrics with the token: Prometheus text with the enrollment counter, the duration histogram and the CA expiry gauge", async () => {
    expect(await enroll(base, caPath)).toBe("SUCCESS");
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    expect(text).toContain("# TYPE scep_server_enrollments_total counter");
    expect(text).toMatch(/^scep_server_enrollments_total\{scep_profile="\/scep",scep_outcome="success",scep_reason="issued",scep_enrollment_kind="initial",scep_challenge_kind="static"(,[^}]*)?\} 1$/m);
    expect(text).toContain("# TYPE scep_server_request_duration histogram\n");
    expect(text).toContain("# UNIT scep_server_request_duration s\n");
    expect(text).toMatch(/^target_info\{service_name="scep-example-server"[,}]/m);
    expect(text).toMatch(/^scep_server_request_duration_count\{scep_profile="\/scep",scep_operation="PKCSReq",scep_outcome="success"(,[^}]*)?\} 1$/m);
    expect(text).toMatch(/^scep_server_request_duration_bucket\{scep_profile="\/scep",scep_operation="PKCSReq",scep_outcome="success",(?:[^}]*,)?le="10"\} 1$/m);
    const gauge = /^scep_certificate_time_to_expiry\{scep_profile="\/scep",scep_certificate_role="ca",scep_certificate_subject="([^"]+)"(,[^}]*)?\} ([\d.]+)$/m.exec(text);
    expect(gauge, text).not.toBeNull();
    const ca = Certificate.from(readFileSync(caPath, "utf8"));
    expect(gauge![1]).toBe(ca.subject);
    expect(Math.abs(Number(gauge![3]) - (ca.notAfter.getTime() - Date.now()) / 86_400_000)).toBeLessThan(0.01);
    expect(text).not.toContain(CHALLENGE);
  });

  it("readyz turns 503 when redis-server is killed (healthz stays 200), and 200 again once it is back", async () => {
    await redis.kill();
    const down = await untilStatus(`${base}/readyz`, 503);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: "not ready", checks: { ca: "ok", redis: "down" } });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await redis.restart();
    const up = await untilStatus(`${base}/readyz`, 200);
    expect(await up.json()).toEqual({ status: "ready", checks: { ca: "ok", redis: "ok" } });
  }, 90_000);

  it("readyz turns 503 while redis-server hangs (accepts, answers nothing: the background PING fails), 200 after", async () => {
    await redis.pause();
    try {
      const down = await untilStatus(`${base}/readyz`, 503);
      expect(await down.json()).toEqual({ status: "not ready", checks: { ca: "ok", redis: "down" } });
    } finally {
      redis.resume();
    }
    expect((await untilStatus(`${base}/readyz`, 200)).status).toBe(200);
  }, 90_000);
});

describe("without Redis or a metrics token", () => {
  let proc: ExampleProcess;
  let base: string;
  beforeAll(async () => {
    ({ proc, base } = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: join(tmp, "memory"), SCEP_CHALLENGE: CHALLENGE }));
  }, 60_000);
  afterAll(async () => void (await proc?.terminate()));

  it("readyz checks the CA only; /metrics is open; HEAD works", async () => {
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: "ready", checks: { ca: "ok" } }]);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("# TYPE scep_certificate_time_to_expiry gauge");
    expect((await fetch(`${base}/healthz`, { method: "HEAD" })).status).toBe(200);
  });

  it("the SCEP endpoint behind is untouched (GetCACaps 200), and /healthzX is not a probe", async () => {
    expect((await fetch(`${base}/scep?operation=GetCACaps`)).status).toBe(200);
    expect((await fetch(`${base}/healthzX`)).status).toBe(404);
  });
});
