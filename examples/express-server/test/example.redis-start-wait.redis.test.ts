/**
 * The Express example started with `SCEP_REDIS_URL` before Redis listens (docker compose, systemd), against a real
 * redis-server on loopback: it waits for Redis (`--redis-start-timeout`, default 30 s) instead of exiting 2 at once.
 * Meanwhile it listens and answers GetCACaps and `/readyz` 503 + Retry-After "waiting for Redis" while `/healthz` is
 * 200, writes a `redis-waiting` line (password masked), and serves once Redis is up. A timeout exits 2 with one line
 * naming the Redis URL without its password; a wrong password or NOAUTH exits 2 at once; SIGTERM during the wait
 * exits 0. The tests wait for the server's lines, never for wall-clock time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeStablePort, startRedisServer, type RedisServer } from "../../../test-support/peers";
import { TrackedExamples, answerOf, type ExampleProcess } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const PASSWORD = "s3cret-redis-pass-42";
const examples = new TrackedExamples(EXAMPLE_DIR);
const tmp = mkdtempSync(join(tmpdir(), "scep-redis-wait-"));
let dirs = 0;

afterAll(async () => {
  await examples.terminateAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** An example process on `port` (given: no line names it while the server waits) with its own data directory. */
function launch(port: number, env: Record<string, string>): ExampleProcess {
  return examples.launch({ PORT: String(port), SCEP_DATA_DIR: join(tmp, `data-${++dirs}`), SCEP_CHALLENGE: "wait-secret", ...env });
}

describe("Redis not listening yet at start", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
    await redis.kill(); // its port now refuses connections; restart() brings Redis back on it
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("waits: 503 + Retry-After 'waiting for Redis' for GetCACaps and /readyz, /healthz 200, one redis-waiting line; once Redis starts it serves GetCACaps and is ready", async () => {
    const port = await freeStablePort();
    const proc = launch(port, { SCEP_REDIS_URL: redis.url, SCEP_REDIS_START_TIMEOUT: "600" });
    const waiting = await proc.waitForJson("redis-waiting");
    expect(waiting).toEqual({ time: expect.any(String), type: "redis-waiting", redis: redis.url, reason: `connect ECONNREFUSED 127.0.0.1:${redis.port}`, waitedSeconds: 0, timeoutSeconds: 600 });
    // The listener is bound before the wait: requests get an answer, not ECONNREFUSED.
    const base = `http://127.0.0.1:${port}`;
    expect(await answerOf(`${base}/scep?operation=GetCACaps`)).toEqual({ status: 503, retryAfter: "1", body: "waiting for Redis\n" });
    expect(await answerOf(`${base}/healthz`)).toEqual({ status: 200, retryAfter: null, body: "ok\n" });
    const readyz = await answerOf(`${base}/readyz`);
    expect({ ...readyz, body: JSON.parse(readyz.body) }).toEqual({ status: 503, retryAfter: "1", body: { status: "not ready", reason: "waiting for Redis", checks: { redis: "down" } } });

    await redis.restart();
    const listening = await proc.listening();
    expect(listening.port).toBe(port);
    expect(proc.events("redis-up")).toEqual([{ time: expect.any(String), type: "redis-up", redis: redis.url }]);
    const caps = await answerOf(`${base}/scep?operation=GetCACaps`);
    expect(caps.status).toBe(200);
    expect(caps.body).toContain("POSTPKIOperation");
    expect((await answerOf(`${base}/readyz`)).status).toBe(200);
    expect([proc.child.exitCode, proc.child.signalCode]).toEqual([null, null]);
    expect(await proc.terminate()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it("SIGTERM during the wait exits 0 with the shutdown and stopped lines", async () => {
    await redis.kill(); // down again after the test above
    const proc = launch(await freeStablePort(), { SCEP_REDIS_URL: redis.url.replace("redis://", `redis://:${PASSWORD}@`), SCEP_REDIS_START_TIMEOUT: "600" });
    await proc.waitForJson("redis-waiting");
    expect(await proc.terminate()).toEqual({ code: 0, signal: null });
    expect(proc.events("shutdown")).toEqual([{ time: expect.any(String), type: "shutdown", signal: "SIGTERM" }]);
    expect(proc.events("stopped")).toHaveLength(1);
    expect(proc.events("listening")).toEqual([]);
    expect(proc.stderr).not.toMatch(/unhandled|Error:/i);
  }, 120_000);
});

describe("Redis that never comes", () => {
  it("the timeout elapsed: exit 2 with one line naming the URL without its password and the last reason", async () => {
    const redisPort = await freeStablePort();
    const proc = launch(await freeStablePort(), { SCEP_REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redisPort}`, SCEP_REDIS_START_TIMEOUT: "1" });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr).toBe(`express-server: cannot reach Redis at redis://:***@127.0.0.1:${redisPort} after 1 s: connect ECONNREFUSED 127.0.0.1:${redisPort}\n`);
    expect(proc.events("redis-waiting")[0]).toMatchObject({ redis: `redis://:***@127.0.0.1:${redisPort}`, timeoutSeconds: 1 });
    expect(proc.lines.join("\n") + proc.stderr).not.toContain(PASSWORD);
  }, 120_000);
});

describe("Redis that refuses the credentials", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
    expect(await redis.command(`CONFIG SET requirepass ${PASSWORD}`)).toBe("+OK");
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("a wrong password exits 2 at once with Redis's WRONGPASS, no wait (timeout 600 s)", async () => {
    const url = `redis://:wrong-${PASSWORD}@127.0.0.1:${redis.port}`;
    const proc = launch(await freeStablePort(), { SCEP_REDIS_URL: url, SCEP_REDIS_START_TIMEOUT: "600" });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr).toBe(`express-server: cannot reach Redis at redis://:***@127.0.0.1:${redis.port}: WRONGPASS invalid username-password pair or user is disabled.\n`);
    expect(proc.events("redis-waiting")).toEqual([]);
    expect(proc.lines.join("\n") + proc.stderr).not.toContain(PASSWORD);
  }, 120_000);

  it("no password (NOAUTH) exits 2 at once, no wait (timeout 600 s)", async () => {
    const proc = launch(await freeStablePort(), { SCEP_REDIS_URL: `redis://127.0.0.1:${redis.port}`, SCEP_REDIS_START_TIMEOUT: "600" });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr).toMatch(new RegExp(`^express-server: cannot reach Redis at redis://127\\.0\\.0\\.1:${redis.port}: NOAUTH [^\\n]*\\n$`));
    expect(proc.events("redis-waiting")).toEqual([]);
  }, 120_000);
});
