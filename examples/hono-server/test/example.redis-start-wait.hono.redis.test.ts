/**
 * The Hono example shares the server kit's start-up wait for Redis (see the Express example's
 * example.redis-start-wait.redis.test.ts for every case): started while its Redis (a real redis-server on loopback)
 * does not listen, it answers GetCACaps 503 + Retry-After "waiting for Redis" and `/healthz` 200, and serves once
 * Redis is up. The test waits for the server's lines, never for wall-clock time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freeStablePort, startRedisServer, type RedisServer } from "../../../test-support/peers";
import { TrackedExamples } from "../../server-kit/test/support/example-process.js";

const examples = new TrackedExamples(fileURLToPath(new URL("..", import.meta.url)));
const tmp = mkdtempSync(join(tmpdir(), "scep-hono-redis-wait-"));
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
  await redis.kill(); // its port refuses connections now; restart() brings Redis back on it
});
afterAll(async () => {
  await examples.terminateAll();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

it("waits for Redis (503 'waiting for Redis', /healthz 200), then serves GetCACaps", async () => {
  const port = await freeStablePort();
  const proc = examples.launch({ PORT: String(port), SCEP_DATA_DIR: join(tmp, "data"), SCEP_CHALLENGE: "hono-wait", SCEP_REDIS_URL: redis.url });
  expect(await proc.waitForJson("redis-waiting")).toMatchObject({ redis: redis.url, reason: `connect ECONNREFUSED 127.0.0.1:${redis.port}`, timeoutSeconds: 30 });
  const base = `http://127.0.0.1:${port}`;
  const waiting = await fetch(`${base}/scep?operation=GetCACaps`);
  expect([waiting.status, waiting.headers.get("retry-after"), await waiting.text()]).toEqual([503, "1", "waiting for Redis\n"]);
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  await redis.restart();
  expect((await proc.listening()).port).toBe(port);
  const caps = await fetch(`${base}/scep?operation=GetCACaps`);
  expect(caps.status).toBe(200);
  expect(await caps.text()).toContain("POSTPKIOperation");
  expect(await proc.terminate()).toEqual({ code: 0, signal: null });
}, 120_000);
