/**
 * Self-test of the redis-server harness (peers/redis.ts): a private server on
 * loopback or a unix socket, crash (kill) and restart on the same address,
 * persistence only when asked, hang (pause) and resume, cleanup on stop.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { redisInline, redisPing, startRedisServer } from "../peers";

describe("startRedisServer", () => {
  it("serves on a loopback port without persistence; kill() is a crash, restart() comes back empty on the same port", async () => {
    const redis = await startRedisServer();
    try {
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(await redis.command("INFO persistence")).toMatch(/\baof_enabled:0\r\n/);
      expect(await redis.command("SET k v")).toBe("+OK");
      const pid = redis.pid();
      await redis.kill();
      expect(redis.running()).toBe(false);
      await expect(redisPing(redis.connection, 500)).rejects.toThrow(/ECONNREFUSED/);
      await redis.restart();
      expect(redis.pid()).not.toBe(pid);
      expect(redis.connection).toEqual({ host: "127.0.0.1", port: redis.port });
      expect(await redis.command("GET k")).toBe("");
    } finally {
      await redis.stop();
    }
    expect(existsSync(redis.dir)).toBe(false);
  });

  it("with persistence: \"aof\" a crash loses no acknowledged write", async () => {
    const redis = await startRedisServer({ persistence: "aof" });
    try {
      expect(await redis.command("INFO persistence")).toMatch(/\baof_enabled:1\r\n/);
      expect(await redis.command("SET k kept")).toBe("+OK");
      await redis.kill();
      await redis.restart();
      expect(await redis.command("GET k")).toBe("kept");
    } finally {
      await redis.stop();
    }
  });

  it("listens on a unix socket (mode 0700 dir) instead of TCP when asked", async () => {
    const redis = await startRedisServer({ unixSocket: true });
    try {
      expect(redis.port).toBe(0);
      expect(redis.connection).toEqual({ path: redis.socketPath });
      expect(redis.url).toBe(`unix://${redis.socketPath}`);
      expect(await redisPing(redis.connection)).toBe("+PONG");
    } finally {
      await redis.stop();
    }
  });

  it("pause() makes it hang (no answer), resume() brings it back", async () => {
    const redis = await startRedisServer();
    try {
      await redis.pause();
      await expect(redisInline(redis.connection, "PING", 300)).rejects.toThrow(/PING timed out/);
      redis.resume();
      expect(await redisPing(redis.connection)).toBe("+PONG");
    } finally {
      await redis.stop();
    }
  });
});
