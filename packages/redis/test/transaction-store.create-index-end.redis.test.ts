/**
 * RedisTransactionStore.create: the status index it lists the record in and the expiry index end no earlier than the
 * record (PEXPIRETIME, Redis's clock), and the expiry index scores the record by exactly that end.
 *
 * The CREATE script extended both keys by its `ttl` argument from the moment of their own PEXPIRE, while the record
 * ends at `TIME` + `ttl`: consistent only while a relative PEXPIRE and `TIME` read the same moment, which depends on
 * the Redis version's script time rules. Now the keys are extended to the record's PTTL, read back in the script (as
 * TRANSITION and UNTRANSITION do), on the clock the PEXPIRE itself uses. The redis-server installed here (7.0.15) reads
 * both from the wall clock, so the old script passes this test too: the test holds the invariant (every index key has
 * a TTL, and ends no earlier than the records it lists), not a fault seen here.
 *
 * Real redis-server on loopback. Nothing sleeps.
 */
import type { Transaction } from "@scep/core";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis();
const NOW = new Date("2026-03-01T10:00:00.000Z");
const HOUR = 3_600_000;

function tx(transactionId: string, status: "PENDING" | "ISSUING", lifetimeMs: number): Transaction {
  const base: Transaction = {
    profile: "corp",
    transactionId,
    status,
    csr: Uint8Array.from([0x30, 0x00]),
    signerCertificate: Uint8Array.from([0x30, 0x02, 0x00, 0xfe]),
    renewal: false,
    createdAt: NOW,
    updatedAt: NOW,
    expiresAt: new Date(NOW.getTime() + lifetimeMs),
  };
  return status === "ISSUING" ? { ...base, signerCertificate: new Uint8Array(0), direct: true } : { ...base, challengeValidated: true };
}

const keys = (prefix: string) => ({
  record: (id: string) => `${prefix}tx:{corp}:id:${id}`,
  status: (s: string) => `${prefix}tx:{corp}:status:${s}`,
  expiry: `${prefix}tx:{corp}:expiry`,
});

/** When Redis drops `key` (PEXPIRETIME, ms by Redis's clock): -1 never, -2 gone. */
async function endOf(key: string): Promise<number> {
  return Number(await redis.client.call("PEXPIRETIME", key));
}

describe("RedisTransactionStore.create: its index keys end no earlier than the record", () => {
  it("fresh keys, keys with a shorter TTL, and creates that first prune 64 dead entries: each index key ends at or after the record, the expiry score is its end", async () => {
    const prefix = "create-end:";
    const k = keys(prefix);
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now: () => NOW });
    const problems: string[] = [];
    for (let i = 0; i < 40; i++) {
      // Dead entries (scored long before Redis's clock) for the create's prune to drop first.
      const dead = Array.from({ length: 64 }, (_, j) => [j + 1, `dead-${i}-${j}`] as const);
      await redis.client.zadd(k.expiry, ...dead.flat());
      await redis.client.zadd(k.status("PENDING"), ...dead.flat());
      // Every other round, the index keys hold a TTL shorter than the record's: the create must extend them.
      if (i % 2 === 1) for (const key of [k.expiry, k.status("PENDING"), k.status("ISSUING")]) await redis.client.pexpire(key, 10);
      const status = i % 3 === 0 ? "ISSUING" : "PENDING";
      const id = `T${i}`;
      expect(await store.create(tx(id, status, HOUR + i))).toBe(true);
      const recordEnd = await endOf(k.record(id));
      expect(recordEnd).toBeGreaterThan(0);
      expect(await redis.client.zscore(k.expiry, id)).toBe(String(recordEnd));
      for (const key of [k.status(status), k.expiry]) {
        const end = await endOf(key);
        if (!(end >= recordEnd)) problems.push(`create ${id}: ${key} ends ${end}, its record ${recordEnd}`);
      }
    }
    expect(problems).toEqual([]);
    expect(await redis.client.zcount(k.expiry, "-inf", 1000)).toBe(0); // the dead entries went, 64 a create
  });
});
