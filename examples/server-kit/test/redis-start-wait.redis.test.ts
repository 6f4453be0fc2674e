/**
 * waitForRedis (redis-start-wait.ts) against a loopback port nothing listens on and a real redis-server: the wait's
 * `redis-waiting` lines come at the first failure and then at most every 5 s (a clock injected as `now`, the pauses
 * real: 250 ms, 500 ms, 1 s, 2 s), the timeout's error names the URL without its password, an abort ends the wait
 * with the signal's reason, a TLS certificate that does not verify ends it at once, and a Redis that answers
 * connects at once.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeStablePort, startRedisServer, type RedisServer } from "../../../test-support/peers";
import { RedisConnectError } from "../src/redis-connection.js";
import { waitForRedis } from "../src/redis-start-wait.js";

describe("waitForRedis", () => {
  it("logs redis-waiting at the first failure, then at most every 5 s; after the timeout a RedisConnectError '… after N s: <last reason>'", async () => {
    const port = await freeStablePort();
    const lines: Record<string, unknown>[] = [];
    const waiting: boolean[] = [];
    let clock = 0;
    // Each reading 3 s later: attempts fail at 3, 6, 9 and 12 s, the fifth at 15 s reaches the timeout.
    const error = await waitForRedis(`redis://user:hunter2-pass@127.0.0.1:${port}`, (e) => lines.push(e), { timeoutSeconds: 15, now: () => (clock += 3000) - 3000, onWaiting: (w) => waiting.push(w) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const where = `redis://user:***@127.0.0.1:${port}`;
    const reason = `connect ECONNREFUSED 127.0.0.1:${port}`;
    expect(error).toBeInstanceOf(RedisConnectError);
    expect(error).toMatchObject({ code: "ERR_REDIS_CONNECT", where, reason, permanent: false, message: `cannot reach Redis at ${where} after 15 s: ${reason}` });
    expect(lines).toEqual([
      { type: "redis-waiting", redis: where, reason, waitedSeconds: 3, timeoutSeconds: 15 },
      { type: "redis-waiting", redis: where, reason, waitedSeconds: 9, timeoutSeconds: 15 },
    ]);
    expect(waiting).toEqual([true, false]);
    expect(JSON.stringify(lines)).not.toContain("hunter2");
  }, 60_000);

  it("timeout 0: the first failure as connectRedis throws it, no line, no wait", async () => {
    const port = await freeStablePort();
    const lines: unknown[] = [];
    await expect(waitForRedis(`redis://127.0.0.1:${port}`, (e) => lines.push(e), { timeoutSeconds: 0 })).rejects.toMatchObject({
      name: "RedisConnectError",
      message: `cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    expect(lines).toEqual([]);
  });

  it("an abort during the wait rejects with the signal's reason", async () => {
    const port = await freeStablePort();
    const stop = new AbortController();
    const reason = new Error("SIGTERM");
    const waited = waitForRedis(`redis://127.0.0.1:${port}`, () => stop.abort(reason), { timeoutSeconds: 600, signal: stop.signal });
    await expect(waited).rejects.toBe(reason);
  });

  it("a TLS certificate that does not verify (self-signed, rediss://) fails at once, no redis-waiting line (timeout 600 s)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scep-redis-tls-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
    // A TLS listener that never gets past the handshake: the client refuses its certificate.
    const server = createTlsServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (socket) => socket.destroy());
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const port = (server.address() as AddressInfo).port;
    const lines: unknown[] = [];
    try {
      const error = await waitForRedis(`rediss://:pw@127.0.0.1:${port}`, (e) => lines.push(e), { timeoutSeconds: 600 }).then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({ code: "ERR_REDIS_CONNECT", permanent: true, message: `cannot reach Redis at rediss://:***@127.0.0.1:${port}: self-signed certificate` });
      expect(lines).toEqual([]);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("with Redis up", () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("connects at the first attempt: no redis-waiting, no redis-up line", async () => {
      const lines: unknown[] = [];
      const connection = await waitForRedis(redis.url, (e) => lines.push(e), { timeoutSeconds: 30 });
      try {
        expect(await connection.client.ping()).toBe("PONG");
        expect(lines).toEqual([]);
      } finally {
        connection.stop();
        connection.client.disconnect();
      }
    });
  });
});
