/**
 * What two replicas of the Express example (one data directory, one Redis as SCEP_REDIS_URL, child processes on
 * loopback) write while Redis is out, for alerts built on their JSON lines:
 *
 * - a hung Redis (redis-server under SIGSTOP: it keeps the socket open, so ioredis raises no error) makes each
 *   replica write one `redis-down` line with the reason ("no answer to PING within 2000 ms") while `/readyz` says
 *   `"redis":"down"`, and one `redis-up` once SIGCONT lets it answer again;
 * - a killed Redis: the admin API's 503 is logged as an `admin-error` line that names the operation the operator ran
 *   (`approve`, though the store failed on the listing that finds the transaction's profile) and says it in our words
 *   ("Redis connection is down (…)"), never ioredis' "Stream isn't writeable and enableOfflineQueue options is false";
 *   the same for a PKIOperation's `scep-error` line; one `redis-down` per outage, `redis-up` after the restart.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "@scep/core";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { TrackedExamples, type StartedExample } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "outage-admin-token-0123456789";
const examples = new TrackedExamples(EXAMPLE_DIR);
const tmp = mkdtempSync(join(tmpdir(), "scep-redis-outage-"));
let redis: RedisServer;
let a: StartedExample;
let b: StartedExample;

beforeAll(async () => {
  redis = await startRedisServer();
  const env = { SCEP_DATA_DIR: join(tmp, "data"), SCEP_REDIS_URL: redis.url, SCEP_ADMIN_TOKEN: TOKEN, SCEP_CHALLENGE: "outage-secret", SCEP_PENDING: "true" };
  a = await examples.start(env);
  b = await examples.start(env);
}, 120_000);
afterAll(async () => {
  await examples.terminateAll();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const readyz = async (r: StartedExample): Promise<[number, unknown]> => {
  const res = await fetch(`${r.base}/readyz`);
  return [res.status, await res.json()];
};

describe("Redis hung (SIGSTOP), then resumed (SIGCONT)", () => {
  it("each replica writes one redis-down with the reason while /readyz says redis down, and one redis-up once Redis answers", async () => {
    expect(a.proc.events("redis-down")).toEqual([]);
    await redis.pause();
    try {
      for (const r of [a, b]) {
        const down = await r.proc.waitForJson("redis-down");
        expect(down).toEqual({ time: expect.any(String), type: "redis-down", redis: redis.url, reason: "no answer to PING within 2000 ms" });
        // The line follows what readiness sees: down now, and a store request answers 503 + Retry-After.
        expect(await readyz(r)).toEqual([503, { status: "not ready", checks: { ca: "ok", redis: "down" } }]);
      }
      const refused = await fetch(`${a.base}/admin/scep/pending`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect([refused.status, refused.headers.get("retry-after")]).toEqual([503, "30"]);
    } finally {
      redis.resume();
    }
    for (const r of [a, b]) {
      expect(await r.proc.waitForJson("redis-up")).toEqual({ time: expect.any(String), type: "redis-up", redis: redis.url });
      expect(await readyz(r)).toEqual([200, { status: "ready", checks: { ca: "ok", redis: "ok" } }]);
      // Once per outage: the failed PINGs of the 2-second timer while Redis hung wrote nothing more.
      expect(r.proc.events("redis-down")).toHaveLength(1);
    }
  }, 60_000);
});

describe("Redis killed, then restarted", () => {
  it("an approve's admin-error line names approve and says the connection is down in our words; a PKIOperation's scep-error line too; one redis-down, then redis-up", async () => {
    const downBefore = a.proc.events("redis-down").length;
    const keys = await generateRsaKeyPair(2048);
    const ca = Certificate.from(readFileSync(a.listening.caCertificate, "utf8"));
    const csr = await generateCsr({ keys, subject: "CN=outage-device", challengePassword: "outage-secret" });
    const req = await buildPkcsReq({ csr, signer: await createSelfSignedSigner({ keys, subject: "CN=outage-device" }), recipient: ca });
    await redis.kill();
    try {
      await a.proc.waitForJson("redis-down", () => a.proc.events("redis-down").length > downBefore);
      const approve = await fetch(`${a.base}/admin/scep/approve`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ transactionId: "outage-tid" }) });
      expect([approve.status, approve.headers.get("retry-after"), await approve.json()]).toEqual([503, "30", { error: "the transaction store is unavailable; try again" }]);
      const adminError = await a.proc.waitForJson("admin-error", (e) => e.path === "/admin/scep/approve");
      expect(adminError).toEqual({
        time: expect.any(String),
        type: "admin-error",
        method: "POST",
        path: "/admin/scep/approve",
        operation: "approve",
        store: "transaction",
        status: 503,
        code: "ERR_STORE_UNAVAILABLE",
        // An approve without profile asks each profile's store for the transaction (`get`; it listed the pending ones).
        message: expect.stringMatching(/^Redis connection is down \((not connected|connection closed|ECONNRESET|ECONNREFUSED)\): get (was not sent|got no answer)$/),
      });
      const pki = await fetch(`${a.base}/scep?operation=PKIOperation`, { method: "POST", body: req.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } });
      expect([pki.status, pki.headers.get("retry-after")]).toEqual([503, "30"]);
      const scepError = await a.proc.waitForJson("scep-error");
      expect(scepError).toMatchObject({ operation: "PKCSReq", status: 503, code: "ERR_STORE_UNAVAILABLE" });
      expect(scepError.message).toMatch(/^Redis connection is down \((not connected|connection closed|ECONNRESET|ECONNREFUSED)\): \w+ (was not sent|got no answer)$/);
      expect(a.proc.lines.join("\n")).not.toMatch(/Stream isn't writeable|enableOfflineQueue/);
    } finally {
      await redis.restart();
    }
    for (const r of [a, b]) {
      await r.proc.waitForJson("redis-up", () => r.proc.events("redis-up").length >= 2);
      expect(r.proc.events("redis-down")).toHaveLength(2);
      expect(r.proc.events("redis-down")[1]).toEqual({ time: expect.any(String), type: "redis-down", redis: redis.url, reason: expect.any(String), ...(r.proc.events("redis-down")[1]!.error !== undefined ? { error: expect.any(String) } : {}) });
    }
  }, 90_000);
});
