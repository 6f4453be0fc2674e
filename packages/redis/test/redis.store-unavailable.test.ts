/**
 * Redis down or hung: every store operation rejects with StoreUnavailableError
 * (ERR_STORE_UNAVAILABLE, with retryAfterSeconds) instead of hanging, whatever
 * the client's settings; once redis-server is back the same stores work again
 * without anyone touching the client. Counters keep counting (in a bounded
 * buffer) while Redis is down and write it all once it is back.
 */
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isScepError, type Transaction } from "@scep/core";
import { startRedisServer, waitFor, type RedisServer } from "../../../test-support/peers";
import { pause } from "./support/redis-probes.js";
import { RedisChallengeStore, RedisCounterStore, RedisTransactionStore, redisClientOptions } from "../src/index.js";

let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

const now = (): Date => new Date();
// Waited out while Redis is down or hung, and the bound on every answer once it is back (the counters' flush and
// read), which a loaded machine must not exceed: 300 ms could be.
const TIMEOUT_MS = 1000;

function tx(transactionId: string): Transaction {
  const t = now();
  return {
    profile: "p",
    transactionId,
    status: "PENDING",
    csr: new Uint8Array([1]),
    signerCertificate: new Uint8Array([2]),
    renewal: false,
    createdAt: t,
    updatedAt: t,
    expiresAt: new Date(t.getTime() + 600_000),
  };
}

/** Every operation of both stores, each turned into its settled outcome. */
async function everyOperation(client: Redis): Promise<unknown[]> {
  const store = new RedisTransactionStore(client, { commandTimeoutMs: TIMEOUT_MS, retryAfterSeconds: 7, now });
  const challenges = new RedisChallengeStore(client, { commandTimeoutMs: TIMEOUT_MS, retryAfterSeconds: 7, now });
  const ops: Array<() => Promise<unknown>> = [
    () => store.get("p", "t"),
    () => store.create(tx("t")),
    () => store.transition("p", "t", "PENDING", { status: "ISSUED", updatedAt: now() }),
    () => store.list("p"),
    () => store.delete("p", "t"),
    () => challenges.issue({ profile: "p" }),
    () => challenges.consume("0123456789abcdef0123456789abcdef", { profile: "p" }),
  ];
  return Promise.all(ops.map((op) => op().then((v) => ({ ok: v }), (e: unknown) => e)));
}

function expectUnavailable(outcomes: unknown[], message: RegExp): void {
  expect(outcomes).toHaveLength(7);
  for (const e of outcomes) {
    expect(isScepError(e), String(e)).toBe(true);
    expect(e).toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", retryAfterSeconds: 7 });
    expect((e as Error).message).toMatch(message);
  }
}

async function recovered(client: Redis): Promise<void> {
  const store = new RedisTransactionStore(client, { commandTimeoutMs: TIMEOUT_MS, now });
  await waitFor(async () => ((await store.get("p", "none")) === undefined ? true : undefined), {
    timeoutMs: 20_000,
    what: "the store to work again after redis-server came back",
  });
}

// Without an offline queue a command fails at once, said in the SDK's words with the store method the caller ran
// ("Redis connection is down (not connected): get was not sent", never ioredis' "Stream isn't writeable and
// enableOfflineQueue options is false"), unless it was written before the client saw the connection drop; with
// ioredis' defaults it waits in the queue until the store's deadline.
describe.each([
  [
    "the recommended client settings (no offline queue)",
    { ...redisClientOptions },
    /^Redis (connection is down \((not connected|connection closed|ECONNRESET|ECONNREFUSED|EPIPE)\): (get|create|transition|list|delete|issue|consume) (was not sent|got no answer)|did not answer (get|create|transition|list|delete|issue|consume) within 1000 ms)$/,
  ],
  ["ioredis' defaults (offline queue, 20 retries)", {}, /^Redis did not answer \w+ within 1000 ms$/],
])("with %s", (_label, clientOptions, downMessage) => {
  it("redis-server killed: every operation rejects with StoreUnavailableError; after a restart they work again", async () => {
    const client = new Redis({ ...server.connection, ...clientOptions, lazyConnect: true });
    client.on("error", () => {});
    try {
      await client.connect();
      const store = new RedisTransactionStore(client, { now });
      expect(await store.create(tx("before"))).toBe(true);
      await server.kill();
      expectUnavailable(await everyOperation(client), downMessage);
      await server.restart();
      await recovered(client);
      expect(await store.create(tx("after"))).toBe(true);
      expect((await store.get("p", "after"))?.status).toBe("PENDING");
      // Without persistence the restart lost what was there before (the README says which setting keeps it).
      expect(await store.get("p", "before")).toBeUndefined();
    } finally {
      client.disconnect();
    }
  });
});

describe("a hung redis-server (SIGSTOP)", () => {
  it("every operation rejects within commandTimeoutMs with StoreUnavailableError; after SIGCONT they work again", async () => {
    const client = new Redis({ ...server.connection, ...redisClientOptions, commandTimeout: 60_000, lazyConnect: true });
    client.on("error", () => {});
    try {
      await client.connect();
      await pause(server); // stopped before anything is sent: every operation waits in the socket
      try {
        expectUnavailable(await everyOperation(client), /^Redis did not answer (get|create|transition|list|delete|issue|consume) within 1000 ms$/);
      } finally {
        server.resume();
      }
      await recovered(client);
    } finally {
      client.disconnect();
    }
  });
});

describe("RedisCounterStore while redis-server is down", () => {
  it("increment neither throws nor waits; the bounded buffer keeps the counts and writes them once Redis is back", async () => {
    const client = new Redis({ ...server.connection, ...redisClientOptions, lazyConnect: true });
    client.on("error", () => {});
    const errors: unknown[] = [];
    const counters = new RedisCounterStore(client, { keyPrefix: "down:", commandTimeoutMs: TIMEOUT_MS, flushIntervalMs: 20, maxBufferedLabels: 4, onError: (e) => errors.push(e) });
    try {
      await client.connect();
      counters.increment("p", "success", "issued");
      expect(await counters.read("p")).toEqual({ outcomes: { success: 1 }, reasons: { issued: 1 } });
      await server.kill();
      for (let i = 0; i < 5; i++) expect(counters.increment("p", "success", "issued")).toBeUndefined();
      counters.increment("p", "failure", "bad_challenge");
      counters.increment("p", "success", "a_fifth_label");
      expect(counters.dropped).toBe(1);
      await expect(counters.flush()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
      await expect(counters.read("p")).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
      await server.restart();
      await recovered(client);
      // The restart (no persistence) lost the first count; everything counted while Redis was down arrives.
      expect(await counters.read("p")).toEqual({ outcomes: { success: 6, failure: 1 }, reasons: { issued: 5, bad_challenge: 1 } });
      for (const e of errors) expect(e).toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    } finally {
      await counters.close().catch(() => undefined);
      client.disconnect();
    }
  });
  it("an async onError that rejects is dropped: no unhandled rejection (which would end the process) when a timed flush fails", async () => {
    const client = new Redis({ ...server.connection, ...redisClientOptions, lazyConnect: true });
    client.on("error", () => {});
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    let told = 0;
    const counters = new RedisCounterStore(client, { keyPrefix: "down-async:", commandTimeoutMs: TIMEOUT_MS, flushIntervalMs: 20, onError: async () => Promise.reject(new Error(`sink ${++told}`)) });
    process.on("unhandledRejection", onUnhandled);
    try {
      await client.connect();
      await server.kill();
      counters.increment("p", "success", "issued");
      while (told === 0) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      await server.restart();
      await recovered(client);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await counters.close().catch(() => undefined);
      client.disconnect();
    }
    expect(unhandled).toEqual([]);
  });
});
