/**
 * RedisTransactionStore and RedisChallengeStore against the published
 * conformance suites, on a real redis-server (Debian's, started here on a
 * free loopback port and stopped afterwards).
 */
import Redis from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { challengeStoreConformance, counterStoreConformance, transactionStoreConformance } from "@scep/core/testing";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { RedisChallengeStore, RedisCounterStore, RedisTransactionStore, redisClientOptions } from "../src/index.js";

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis({ ...server.connection, ...redisClientOptions, lazyConnect: true });
  await client.connect();
});
afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

transactionStoreConformance({ name: "RedisTransactionStore", create: ({ now }) => new RedisTransactionStore(client, { now }) });
challengeStoreConformance({ name: "RedisChallengeStore", create: ({ now }) => new RedisChallengeStore(client, { now }) });
counterStoreConformance({ name: "RedisCounterStore", create: () => new RedisCounterStore(client), cleanup: (s) => s.close(), replicas: true });
