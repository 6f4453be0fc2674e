/**
 * RedisRevocationStore: the upgrade of a revocation's reason to keyCompromise (CA/B BR §4.9.1.1, RFC 5280 §5.3.1)
 * raced by several replicas, each on its own connection to one real redis-server (loopback), so the revoke script's
 * check-and-set is what keeps one create and at most one upgrade per serial, and the revision counts exactly those.
 */
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisRevocationStore, redisClientOptions } from "../src/index.js";

const redis = usePrivateRedis();
const replicas: Redis[] = [];

beforeAll(async () => {
  for (let i = 0; i < 4; i++) {
    const client = new Redis({ ...redis.server.connection, ...redisClientOptions, lazyConnect: true });
    await client.connect();
    replicas.push(client);
  }
});
afterAll(() => {
  for (const client of replicas) client.disconnect();
});

describe("RedisRevocationStore: keyCompromise upgrade raced by replicas", () => {
  it("4 replicas revoking 25 serials superseded and keyCompromise at once: per serial one created, one upgrade exactly when a superseded won, every entry ends keyCompromise with its creator's date, revision moved once per change", async () => {
    const stores = replicas.map((client) => new RedisRevocationStore(client, { keyPrefix: "race:" }));
    const before = await stores[0]!.revision();
    const serials = Array.from({ length: 25 }, (_, i) => (0x10 + i).toString(16));
    const calls = serials.flatMap((serialNumber, i) =>
      stores.flatMap((store, r) => [
        { serialNumber, run: () => store.revoke({ serialNumber, reason: (i + r) % 2 ? "keyCompromise" : "superseded", revokedAt: new Date(1_700_000_000_000 + r) }) },
        { serialNumber, run: () => store.revoke({ serialNumber, reason: (i + r) % 2 ? "superseded" : "keyCompromise", revokedAt: new Date(1_700_000_000_000 + r) }) },
      ]),
    );
    const results = await Promise.all(calls.map(async (c) => ({ serialNumber: c.serialNumber, result: await c.run() })));
    let changes = 0;
    for (const serialNumber of serials) {
      const mine = results.filter((r) => r.serialNumber === serialNumber).map((r) => r.result);
      const created = mine.filter((r) => r.created);
      expect(created).toHaveLength(1);
      const upgrades = mine.filter((r) => r.updated);
      expect(upgrades).toHaveLength(created[0]!.entry.reason === "superseded" ? 1 : 0);
      changes += 1 + upgrades.length;
      const final = await stores[1]!.get(serialNumber);
      expect(final).toEqual({ serialNumber, reason: "keyCompromise", revokedAt: created[0]!.entry.revokedAt });
      expect(await redis.client.hget("race:revoked:{ca}", serialNumber)).toBe(`${created[0]!.entry.revokedAt.getTime()}:keyCompromise`);
    }
    expect(await stores[2]!.revision()).toBe(before + changes);
    // Once every entry is keyCompromise, another round changes nothing and leaves the revision as it was.
    const again = await Promise.all(stores.flatMap((store) => serials.map((serialNumber) => store.revoke({ serialNumber, reason: "keyCompromise" }))));
    expect(again.filter((r) => r.created || r.updated)).toHaveLength(0);
    expect(await stores[3]!.revision()).toBe(before + changes);
  });
});
