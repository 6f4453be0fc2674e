/**
 * Review of eec64cd: a claim renewal (fenced ISSUING→ISSUING, same updatedAt, later expiresAt) that times out while
 * Redis is paused, with the holder's ISSUED transition or release queued behind it on the same connection: the late
 * renewal runs, then the holder's write, then the renewal's undo, which must leave the holder's write alone.
 */
import type { Transaction } from "@scep/core";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { pause, scriptRuns, until } from "./support/redis-probes.js";
import { RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis();
const NOW = new Date("2026-03-01T10:00:00.000Z");
const now = (): Date => NOW;

function claim(transactionId: string): Transaction {
  return { profile: "corp", transactionId, status: "ISSUING", csr: Uint8Array.from([0x30, 0x00]), signerCertificate: new Uint8Array(0), renewal: false, createdAt: NOW, updatedAt: NOW, expiresAt: new Date(NOW.getTime() + 10_000), direct: true };
}

describe("claim renewal late on Redis", () => {
  for (const queuedBehind of ["issued", "release"] as const) {
    it(`renewal times out, the holder's ${queuedBehind} is queued behind it: after Redis resumes, the ${queuedBehind} stands (the renewal's undo does not put the claim back)`, async () => {
      const prefix = `renew-${queuedBehind}:`;
      const paused = new RedisTransactionStore(redis.client, { keyPrefix: prefix, commandTimeoutMs: 300, now });
      const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, commandTimeoutMs: 10_000, now });
      expect(await store.create(claim("T"))).toBe(true);
      expect(await store.create(claim("warm-up"))).toBe(true);
      expect(await store.transition("corp", "warm-up", "ISSUING", { status: "ISSUING", updatedAt: NOW }, { updatedAt: NOW })).toBeDefined(); // Redis knows the script: the paused EVALSHA runs as sent
      const before = await scriptRuns(redis.server);
      await pause(redis.server);
      let holder: Promise<unknown>;
      try {
        const renewal = paused.transition("corp", "T", "ISSUING", { status: "ISSUING", updatedAt: NOW, expiresAt: new Date(NOW.getTime() + 20_000) }, { updatedAt: NOW });
        holder =
          queuedBehind === "issued"
            ? store.transition("corp", "T", "ISSUING", { status: "ISSUED", updatedAt: new Date(NOW.getTime() + 1), expiresAt: new Date(NOW.getTime() + 86_400_000), certificate: Uint8Array.from([0x30, 0x01]) }, { updatedAt: NOW })
            : store.transition("corp", "T", "ISSUING", { status: "REJECTED", updatedAt: new Date(NOW.getTime() + 1), expiresAt: new Date(0) }, { updatedAt: NOW });
        await expect(renewal).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
      } finally {
        redis.server.resume();
      }
      expect(await holder!).toBeDefined();
      expect(await until(async () => (await scriptRuns(redis.server)) >= before + 3), "renewal, holder's write and the undo ran").toBe(true);
      await redis.client.ping();
      const tx = await store.get("corp", "T");
      if (queuedBehind === "issued") expect([tx?.status, tx?.certificate?.length]).toEqual(["ISSUED", 2]);
      else expect(tx).toBeUndefined();
    }, 60_000);
  }
});
