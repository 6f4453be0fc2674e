/**
 * The example proxy started with `SCEP_REDIS_URL` before Redis listens (docker compose, systemd), against a real
 * redis-server on loopback: it listens, answers 503 + Retry-After "waiting for Redis" (`/healthz` 200, `/readyz`
 * 503) and writes a `redis-waiting` line while it waits (`--redis-start-timeout`, default 30 s), then serves once
 * Redis is up. A timeout exits 1 (as a Redis failure always did) with one line naming the URL without its password;
 * a wrong password exits at once; SIGTERM during the wait exits 0. The tests wait for lines, never for wall-clock time.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeStablePort, startRedisServer, type RedisServer } from "../../../test-support/peers";
import { TrackedExamples, answerOf, type ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { ADMIN_TOKEN, PROXY_DIR } from "./support/harness.js";

const PASSWORD = "s3cret-proxy-redis-pass";
const examples = new TrackedExamples(PROXY_DIR);
const tmp = mkdtempSync(join(tmpdir(), "scep-proxy-redis-wait-"));
const configFile = join(tmp, "proxy.json");
// The upstream URL needs nothing listening: the start-up check only warns.
writeFileSync(configFile, JSON.stringify({ cas: [{ name: "corp", type: "custom", url: "http://127.0.0.1:9/scep" }] }));
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
  await redis.kill(); // its port refuses connections now; restart() brings Redis back
});
afterAll(async () => {
  await examples.terminateAll();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function launch(port: number, env: Record<string, string>): ExampleProcess {
  return examples.launch({ SCEP_PROXY_CONFIG: configFile, PROXY_ADMIN_TOKEN: ADMIN_TOKEN, PORT: String(port), ...env });
}

describe("proxy: Redis not listening yet at start", () => {
  it("SIGTERM during the wait: stopping, stopped, exit 0", async () => {
    const proc = launch(await freeStablePort(), { SCEP_REDIS_URL: redis.url, SCEP_REDIS_START_TIMEOUT: "600" });
    await proc.waitForJson("redis-waiting");
    expect(await proc.terminate()).toEqual({ code: 0, signal: null });
    expect(proc.events("stopping").map((l) => l.signal)).toEqual(["SIGTERM"]);
    expect(proc.events("stopped").map((l) => l.signal)).toEqual(["SIGTERM"]);
    expect(proc.events("listening")).toEqual([]);
  }, 120_000);

  it("the timeout elapsed: exit 1 with one line naming the URL without its password", async () => {
    const redisPort = await freeStablePort();
    const proc = launch(await freeStablePort(), { SCEP_REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redisPort}`, SCEP_REDIS_START_TIMEOUT: "1" });
    expect(await proc.exited).toEqual({ code: 1, signal: null });
    expect(proc.stderr).toBe(`proxy-server: cannot reach Redis at redis://:***@127.0.0.1:${redisPort} after 1 s: connect ECONNREFUSED 127.0.0.1:${redisPort}\n`);
    expect(proc.lines.join("\n") + proc.stderr).not.toContain(PASSWORD);
  }, 120_000);

  it("waits: 503 + Retry-After 'waiting for Redis', /healthz 200, /readyz 503; once Redis starts it listens and is ready", async () => {
    const port = await freeStablePort();
    const proc = launch(port, { SCEP_REDIS_URL: redis.url, SCEP_REDIS_START_TIMEOUT: "600" });
    expect(await proc.waitForJson("redis-waiting")).toEqual({ time: expect.any(String), type: "redis-waiting", redis: redis.url, reason: `connect ECONNREFUSED 127.0.0.1:${redis.port}`, waitedSeconds: 0, timeoutSeconds: 600 });
    const base = `http://127.0.0.1:${port}`;
    expect(await answerOf(`${base}/scep/a,b,corp,c/pkiclient.exe?operation=GetCACaps`)).toEqual({ status: 503, retryAfter: "1", body: "waiting for Redis\n" });
    expect(await answerOf(`${base}/healthz`)).toEqual({ status: 200, retryAfter: null, body: "ok\n" });
    const readyz = await answerOf(`${base}/readyz`);
    expect({ ...readyz, body: JSON.parse(readyz.body) }).toEqual({ status: 503, retryAfter: "1", body: { status: "not ready", reason: "waiting for Redis", checks: { redis: "down" } } });
    await redis.restart();
    const listening = await proc.waitForJson("listening");
    expect(listening.port).toBe(port);
    expect(proc.events("redis-up")).toEqual([{ time: expect.any(String), type: "redis-up", redis: redis.url }]);
    expect((await answerOf(`${base}/readyz`)).status).toBe(200);
    expect(await proc.terminate()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it("a wrong password exits at once (1, as before) with Redis's WRONGPASS, no redis-waiting line (timeout 600 s)", async () => {
    expect(await redis.command(`CONFIG SET requirepass ${PASSWORD}`)).toBe("+OK");
    const proc = launch(await freeStablePort(), { SCEP_REDIS_URL: `redis://:wrong-${PASSWORD}@127.0.0.1:${redis.port}`, SCEP_REDIS_START_TIMEOUT: "600" });
    expect(await proc.exited).toEqual({ code: 1, signal: null });
    expect(proc.stderr).toBe(`proxy-server: cannot reach Redis at redis://:***@127.0.0.1:${redis.port}: WRONGPASS invalid username-password pair or user is disabled.\n`);
    expect(proc.events("redis-waiting")).toEqual([]);
  }, 120_000);
});
