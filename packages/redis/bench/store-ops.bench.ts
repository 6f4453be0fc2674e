/**
 * Store-operation benchmark: the memory stores of @scep/core against the
 * Redis stores of @scep/redis on a private local redis-server (Debian's,
 * started here on a loopback port, no persistence), one operation at a time
 * and then 8 in flight. Prints p50/p99 latency per operation and the
 * operations per second, and the Redis/memory ratio. Nothing is asserted:
 * this is a measurement.
 *
 * Run: `pnpm bench:redis`. `BENCH_OPS` (default 2000) operations of each kind.
 *
 * @module
 */
import Redis from "ioredis";
import { MemoryChallengeStore, MemoryTransactionStore, type ChallengeStore, type Transaction, type TransactionStore } from "@scep/core";
import { startRedisServer } from "../../../test-support/peers";
import { RedisChallengeStore, RedisTransactionStore, redisClientOptions } from "../src/index.js";

const OPS = Number(process.env.BENCH_OPS ?? 2000);
const CONCURRENCY = 8;

interface Result {
  p50: number;
  p99: number;
  perSecond: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/** Runs `op(i)` for i in [0, OPS) with `concurrency` in flight; latency of each and overall rate. */
async function measure(op: (i: number) => Promise<unknown>, concurrency: number): Promise<Result> {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < OPS) {
        const i = next++;
        const t = performance.now();
        await op(i);
        times.push(performance.now() - t);
      }
    }),
  );
  const elapsed = performance.now() - started;
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), perSecond: (OPS / elapsed) * 1000 };
}

function tx(profile: string, i: number): Transaction {
  const now = new Date();
  return {
    profile,
    transactionId: `t${i}`,
    status: "PENDING",
    csr: new Uint8Array(700).fill(i & 0xff),
    signerCertificate: new Uint8Array(800).fill(7),
    renewal: false,
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + 3_600_000),
  };
}

async function suite(label: string, challenges: ChallengeStore, transactions: TransactionStore, concurrency: number): Promise<Record<string, Result>> {
  const run = `${label}-${concurrency}-${Date.now()}`;
  const issued: string[] = [];
  return {
    "challenge issue": await measure(async (i) => void (issued[i] = await challenges.issue({ profile: run })), concurrency),
    "challenge consume": await measure((i) => challenges.consume(issued[i]!, { profile: run }), concurrency),
    "transaction create": await measure((i) => transactions.create(tx(run, i)), concurrency),
    "transaction get": await measure((i) => transactions.get(run, `t${i}`), concurrency),
    "transaction transition": await measure((i) => transactions.transition(run, `t${i}`, "PENDING", { status: "ISSUED", updatedAt: new Date(), certificate: new Uint8Array(900) }), concurrency),
  };
}

const server = await startRedisServer();
const client = new Redis({ ...server.connection, ...redisClientOptions, lazyConnect: true });
try {
  await client.connect();
  const fmt = (n: number): string => n.toFixed(3).padStart(8);
  console.log(`store operations, ${OPS} of each; redis-server ${server.url} (no persistence), ioredis, Node ${process.version}\n`);
  for (const concurrency of [1, CONCURRENCY]) {
    // Warm up both (JIT, script cache) before measuring.
    await suite("warm-memory", new MemoryChallengeStore(), new MemoryTransactionStore(), concurrency);
    await suite("warm-redis", new RedisChallengeStore(client), new RedisTransactionStore(client), concurrency);
    const memory = await suite("memory", new MemoryChallengeStore(), new MemoryTransactionStore({ maxEntries: 100_000 }), concurrency);
    const redis = await suite("redis", new RedisChallengeStore(client), new RedisTransactionStore(client), concurrency);
    console.log(`concurrency ${concurrency}`);
    console.log(`${"operation".padEnd(24)} ${"memory p50".padStart(10)} ${"p99 ms".padStart(8)} ${"ops/s".padStart(9)} | ${"redis p50".padStart(10)} ${"p99 ms".padStart(8)} ${"ops/s".padStart(9)} | redis/memory`);
    for (const op of Object.keys(memory)) {
      const m = memory[op]!;
      const r = redis[op]!;
      console.log(
        `${op.padEnd(24)} ${fmt(m.p50).padStart(10)} ${fmt(m.p99)} ${m.perSecond.toFixed(0).padStart(9)} | ${fmt(r.p50).padStart(10)} ${fmt(r.p99)} ${r.perSecond.toFixed(0).padStart(9)} | ${(r.perSecond / m.perSecond).toFixed(3)}`,
      );
    }
    console.log("");
  }
} finally {
  client.disconnect();
  await server.stop();
}
