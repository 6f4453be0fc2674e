/**
 * The conformance suites through ioredis' `Cluster` client against a one-node
 * Redis Cluster: the server refuses (CROSSSLOT) any script whose keys span
 * slots, so this proves every multi-key operation stays in one hash slot.
 */
import { Cluster } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { challengeStoreConformance, counterStoreConformance, transactionStoreConformance } from "@scep/core/testing";
import { profileStoreConformance } from "@scep/proxy/testing";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { RedisChallengeStore, RedisCounterStore, RedisProfileStore, RedisTransactionStore, redisClientOptions } from "../src/index.js";

let server: RedisServer;
let cluster: Cluster;

beforeAll(async () => {
  server = await startRedisServer({ cluster: true });
  const { host, port } = server.connection as { host: string; port: number };
  cluster = new Cluster([{ host, port }], { lazyConnect: true, enableOfflineQueue: true, redisOptions: { ...redisClientOptions } });
  await cluster.connect();
});
afterAll(async () => {
  cluster?.disconnect();
  await server?.stop();
});

transactionStoreConformance({ name: "RedisTransactionStore on Redis Cluster", create: ({ now }) => new RedisTransactionStore(cluster, { now }) });
challengeStoreConformance({ name: "RedisChallengeStore on Redis Cluster", create: ({ now }) => new RedisChallengeStore(cluster, { now }) });
counterStoreConformance({ name: "RedisCounterStore on Redis Cluster", create: () => new RedisCounterStore(cluster), cleanup: (s) => s.close(), replicas: true });
profileStoreConformance({ name: "RedisProfileStore on Redis Cluster", create: ({ now }) => new RedisProfileStore(cluster, { now }) });

it("RedisProfileStore on Redis Cluster: a put drops the index entries of records gone by retentionMs (the prune script passes every record it looks at in KEYS)", async () => {
  let t = Date.UTC(2026, 10, 29);
  const store = new RedisProfileStore(cluster, { keyPrefix: "cl-prune:", now: () => new Date(t), retentionMs: 86_400_000 });
  for (const hostId of ["a", "b", "c"]) await store.put({ hostId, profileId: "wifi", caName: "corp", status: "pending", updatedAt: t });
  await cluster.del("cl-prune:proxy:{proxy-profiles}:r:a,wifi,corp", "cl-prune:proxy:{proxy-profiles}:r:b,wifi,corp");
  t += 2 * 86_400_000;
  await store.put({ hostId: "d", profileId: "wifi", caName: "corp", status: "pending", updatedAt: t });
  expect(await cluster.zrange("cl-prune:proxy:{proxy-profiles}:index", "0", "-1")).toEqual(["c,wifi,corp", "d,wifi,corp"]);
  expect(await cluster.zrange("cl-prune:proxy:{proxy-profiles}:expiry", "0", "-1")).toEqual(["c,wifi,corp", "d,wifi,corp"]);
});
